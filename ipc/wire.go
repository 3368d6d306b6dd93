package ipc

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"strings"
	"time"

	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/internal/audit"
)

// The wire types are credstore's own (Request, Resolution, ProfileInfo,
// PutOptions): nothing is converted between the Backend and the socket.
// What is here exists only on the wire.

// MaxBodyBytes bounds every request body; a larger one is answered 413.
const MaxBodyBytes = credstore.MaxBodyBytes

// DoorHeader names the door a look-up hands its key through (token, exec,
// env, git, rotate, ...), for the audit trail. The daemon believes it only
// from torale-cred's own executables; any other program's look-up is
// "socket". credstore.HintOnly asks for the hint alone.
const DoorHeader = credstore.DoorHeader

// Error codes carried in {"error": code, "message": sentence}.
const (
	CodeBadRequest       = "bad_request"
	CodeBadKey           = "bad_key"
	CodeBadProfile       = "bad_profile"
	CodeBadURL           = "bad_url"
	CodeNotFound         = "not_found" // no key configured
	CodeKeychain         = "keychain_unavailable"
	CodeDenied           = "denied"
	CodeTooLarge         = "too_large"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeUnknownRoute     = "unknown_route" // no such path (not "no key")
	CodeForbidden        = "forbidden"
	CodeInternal         = "internal"
)

// Health is GET /v1/health.
type Health struct {
	Status   string `json:"status"`
	Version  string `json:"version"`
	Keychain string `json:"keychain"`
	// Watching: the daemon moves plaintext keys out of config.json (false
	// under daemon --no-watch).
	Watching bool `json:"watching"`
	PID      int  `json:"pid,omitempty"`
	// Config and StateDir are the daemon's config.json and state
	// directory: a client with other files answers itself, over the
	// daemon's keys, and never names a path to the daemon.
	Config   string `json:"config,omitempty"`
	StateDir string `json:"state_dir,omitempty"`
	// Audit counts the trail's records: written, dropped (queue full),
	// failed (the disk refused them). Absent under daemon --no-audit.
	Audit *audit.Stats `json:"audit,omitempty"`
	// Stores are the profiles whose keys live beyond the keychain (Vault,
	// systemd credentials): "ok", or "unavailable: " and why, and the
	// version served. The last key read is served while a store fails.
	Stores map[string]credstore.StoreStatus `json:"stores,omitempty"`
}

// CredentialList is GET /v1/credentials.
type CredentialList struct {
	Profiles []credstore.ProfileInfo `json:"profiles"`
}

// putBody is PUT /v1/credentials/{profile}: the key and its metadata.
type putBody struct {
	APIKey string `json:"api_key"`
	credstore.PutOptions
}

// Deleted is the answer to DELETE /v1/credentials/{profile}.
type Deleted struct {
	Profile string `json:"profile"`
	Deleted bool   `json:"deleted"`
}

// ErrorBody is every error's body.
type ErrorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// decodeStrict decodes exactly one JSON object into v, the way a
// credential daemon must: an unknown field, a field given twice, or a name
// in another case ("PROFILE") is refused, never silently chosen. Those are
// encoding/json/v2's semantics, taken from go-json-experiment/json (its
// home until v2 leaves GOEXPERIMENT), so no parser of our own is needed.
// An empty body is {}. Errors quote no input: a body may hold a key.
func decodeStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	err := json.Unmarshal(body, v, json.RejectUnknownMembers(true), json.MatchCaseInsensitiveNames(false),
		json.WithUnmarshalers(envUnmarshaler))
	if err == nil {
		return nil
	}
	if errors.Is(err, credstore.ErrBadRequest) {
		return cmp.Or(errors.Unwrap(err), err) // readEnv's own sentence, not json's wrapping of it
	}
	return fmt.Errorf("%w: %s", credstore.ErrBadRequest, jsonReason(err))
}

// envUnmarshaler reads a request's env: our variables (credstore.Env.Var), each
// a string, and nothing else kept, so a caller may pass its whole
// environment. It streams the object (no map of every variable, no second
// decoding of each value: the map it replaces cost a tenth of a look-up's
// CPU). Names are matched exactly and a name given twice is refused by the
// decoder itself.
var envUnmarshaler = json.UnmarshalFromFunc(readEnv)

func readEnv(dec *jsontext.Decoder, e *credstore.Env) error {
	switch dec.PeekKind() {
	case 'n': // null: no environment, as an absent env
		_, err := dec.ReadToken()
		return err
	case '{':
	default:
		return fmt.Errorf("%w: env must be an object of the caller's environment variables", credstore.ErrBadRequest)
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		name := tok.String()
		dst := e.Var(name)
		if dst == nil {
			if err := dec.SkipValue(); err != nil {
				return err
			}
			continue
		}
		switch dec.PeekKind() {
		case '"':
		case 'n': // null: unset, as encoding/json leaves a string for null
			if _, err := dec.ReadToken(); err != nil {
				return err
			}
			continue
		default:
			return fmt.Errorf("%w: env.%s must be a string", credstore.ErrBadRequest, name)
		}
		v, err := dec.ReadToken()
		if err != nil {
			return err
		}
		*dst = v.String()
	}
	_, err := dec.ReadToken()
	return err
}

// jsonReason describes a decoding error without echoing the input.
func jsonReason(err error) string {
	var se *json.SemanticError
	var syn *jsontext.SyntacticError
	switch {
	case errors.Is(err, jsontext.ErrDuplicateName):
		return "the body names a field twice" + at(err)
	case errors.As(err, &se) && se.Err != nil && strings.Contains(se.Err.Error(), "unknown object member"):
		return "the body has a field this daemon does not know" + at(err) + "; field names are lower case (profile, api_key, api_url, env)"
	case errors.As(err, &se):
		if se.JSONKind != 0 && se.GoType != nil {
			return fmt.Sprintf("a value has the wrong type (JSON %s where a %s belongs)%s", se.JSONKind, se.GoType.Kind(), at(err))
		}
		return "the body must be a JSON object" + at(err)
	case errors.As(err, &syn):
		return fmt.Sprintf("the body is not valid JSON (at byte %d)", syn.ByteOffset)
	}
	return "the body cannot be decoded"
}

// at names where in the body the error is, as a JSON pointer of field
// names only when none of them could be a key.
func at(err error) string {
	var se *json.SemanticError
	var syn *jsontext.SyntacticError
	var p jsontext.Pointer
	switch {
	case errors.As(err, &se):
		p = se.JSONPointer
	case errors.As(err, &syn):
		p = syn.JSONPointer
	}
	s := string(p)
	if s == "" || len(s) > 64 || strings.Contains(s, "sk_") {
		return ""
	}
	return " (at " + sanitize(s, 64) + ")"
}

// SessionRequest is POST /v1/sessions: torale-cred ssh asks for a remote
// session before it becomes the ssh client (it execs ssh, keeping its
// pid, which the daemon watches). SSHArgs are the arguments it will run
// ssh with (argv[1:]); the daemon takes the destination from them and
// checks them against the ssh process's own once it runs.
type SessionRequest struct {
	Profiles   []string `json:"profiles"`
	TTLSeconds int64    `json:"ttl_seconds,omitempty"`
	SSHArgs    []string `json:"ssh_args"`
}

// SessionToken is one profile's session token: worthless but through this
// session's forward, and only until it ends.
type SessionToken struct {
	Profile string `json:"profile"`
	Token   string `json:"token"`
}

// SessionOpened answers POST /v1/sessions: the forward to set up (the
// remote port on the remote's 127.0.0.1 to the local one) and each
// profile's token, the first the SDK's.
type SessionOpened struct {
	Session
	Tokens    []SessionToken `json:"tokens"`
	LocalPort int            `json:"local_port"`
	// SSHArgs are what torale-cred ssh runs ssh with (argv[1:]): the
	// daemon's forward and options, then the user's arguments. The
	// session runs only once the process runs exactly these.
	SSHArgs []string `json:"ssh_args"`
}

// Session is one live remote session as GET /v1/sessions lists it: never
// a token.
type Session struct {
	ID          string    `json:"id"`
	Profiles    []string  `json:"profiles"`
	Destination string    `json:"destination"`
	PID         int       `json:"pid"`
	RemotePort  int       `json:"remote_port"`
	RemoteURL   string    `json:"remote_url"`
	OpenedAt    time.Time `json:"opened_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	// Running: the ssh client runs with the arguments the session was
	// opened for (false until torale-cred ssh has become it).
	Running bool `json:"running"`
}

// SessionList is GET /v1/sessions.
type SessionList struct {
	Sessions []Session `json:"sessions"`
}

// SessionsRevoked answers DELETE /v1/sessions.
type SessionsRevoked struct {
	Revoked int `json:"revoked"`
}
