package ipc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
)

// MaxBodyBytes bounds every request body; a larger one is answered 413.
const MaxBodyBytes = 64 << 10

// Error codes carried in {"error": code, "message": sentence}.
const (
	CodeBadRequest       = "bad_request"
	CodeBadKey           = "bad_key"
	CodeBadProfile       = "bad_profile"
	CodeNotFound         = "not_found" // no key configured
	CodeKeychain         = "keychain_unavailable"
	CodeTooLarge         = "too_large"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeUnknownRoute     = "unknown_route" // no such path (not "no key")
	CodeForbidden        = "forbidden"
	CodeInternal         = "internal"
)

// ResolveEnv is the caller's Torale environment as /v1/resolve takes it.
// TORALE_PROFILE chooses the profile when "profile" is absent, as it does
// for the CLI; any other variable in the object is ignored, so a caller may
// pass its whole environment.
type ResolveEnv struct {
	APIKey  string `json:"TORALE_API_KEY,omitempty"`
	APIURL  string `json:"TORALE_API_URL,omitempty"`
	Dev     string `json:"TORALE_DEV,omitempty"`
	NoAuth  string `json:"TORALE_NOAUTH,omitempty"`
	Profile string `json:"TORALE_PROFILE,omitempty"`
}

// UnmarshalJSON takes the five variables and ignores the rest of the
// caller's environment; each of the five must be a string.
func (e *ResolveEnv) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	for name, dst := range map[string]*string{"TORALE_API_KEY": &e.APIKey, "TORALE_API_URL": &e.APIURL,
		"TORALE_DEV": &e.Dev, "TORALE_NOAUTH": &e.NoAuth, "TORALE_PROFILE": &e.Profile} {
		if v, ok := m[name]; ok {
			if err := json.Unmarshal(v, dst); err != nil {
				return &json.UnmarshalTypeError{Value: "non-string", Type: reflect.TypeFor[string](), Field: "env." + name}
			}
		}
	}
	return nil
}

// ResolveRequest is the body of POST /v1/resolve: the caller's own flag and
// environment values, all optional.
type ResolveRequest struct {
	Profile string     `json:"profile,omitempty"`
	APIKey  string     `json:"api_key,omitempty"`
	APIURL  string     `json:"api_url,omitempty"`
	Env     ResolveEnv `json:"env"`
}

// Rotation is a stored key's age and due date.
type Rotation struct {
	AgeDays int       `json:"age_days"`
	DueAt   time.Time `json:"due_at"`
	Due     bool      `json:"due"`
}

// Resolution is the answer of /v1/resolve and GET /v1/credentials/{profile}.
// Rotation is null when the profile has no metadata.
type Resolution struct {
	Profile      string    `json:"profile"`
	APIKey       string    `json:"api_key"`
	APIKeySource string    `json:"api_key_source"`
	APIURL       string    `json:"api_url"`
	APIURLSource string    `json:"api_url_source"`
	NoAuth       bool      `json:"noauth"`
	Rotation     *Rotation `json:"rotation"`
}

// Health is GET /v1/health.
type Health struct {
	Status   string `json:"status"`
	Version  string `json:"version"`
	Keychain string `json:"keychain"`
}

// ProfileInfo is one profile's metadata in GET /v1/credentials and the
// answer to PUT: never a key.
type ProfileInfo struct {
	Name string `json:"profile"`
	credstore.Profile
	Rotation *Rotation `json:"rotation"`
}

// CredentialList is GET /v1/credentials.
type CredentialList struct {
	Profiles []ProfileInfo `json:"profiles"`
}

// PutRequest is the body of PUT /v1/credentials/{profile}. Only api_key is
// required; the rest is the metadata the CLI records (source defaults to
// "login").
type PutRequest struct {
	APIKey    string     `json:"api_key"`
	Source    string     `json:"source,omitempty"`
	CreatedAt *time.Time `json:"created_at,omitempty"`
	KeyID     *string    `json:"key_id,omitempty"`
	APIURL    *string    `json:"api_url,omitempty"`
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

// errBadRequest is wrapped by every decoding failure.
var errBadRequest = errors.New("bad request")

// DecodeResolveRequest parses a /v1/resolve body into the resolver's
// request. An empty body is {}. Unknown top-level fields, trailing data and
// non-string values are refused (a typo must not silently change which key
// is chosen); the profile name is checked.
func DecodeResolveRequest(body []byte) (credstore.Request, error) {
	var rr ResolveRequest
	if len(bytes.TrimSpace(body)) > 0 {
		if err := decodeStrict(body, &rr); err != nil {
			return credstore.Request{}, err
		}
	}
	return rr.Request()
}

// Request turns the wire form into the resolver's, defaulting the profile
// from env TORALE_PROFILE, then "default", and checking it.
func (rr ResolveRequest) Request() (credstore.Request, error) {
	p := rr.Profile
	if p == "" {
		p = rr.Env.Profile
	}
	if p == "" {
		p = credstore.DefaultProfile
	}
	if err := credstore.CheckProfile(p); err != nil {
		return credstore.Request{}, err
	}
	return credstore.Request{Profile: p, FlagKey: rr.APIKey, FlagURL: rr.APIURL,
		Env: credstore.Env{APIKey: rr.Env.APIKey, APIURL: rr.Env.APIURL, Dev: rr.Env.Dev, NoAuth: rr.Env.NoAuth}}, nil
}

// RequestFrom is the wire form of a resolver request (the client's side).
func RequestFrom(req credstore.Request) ResolveRequest {
	return ResolveRequest{Profile: req.Profile, APIKey: req.FlagKey, APIURL: req.FlagURL,
		Env: ResolveEnv{APIKey: req.Env.APIKey, APIURL: req.Env.APIURL, Dev: req.Env.Dev, NoAuth: req.Env.NoAuth}}
}

// DecodePutRequest parses a PUT /v1/credentials/{profile} body.
func DecodePutRequest(body []byte) (credstore.PutOptions, string, error) {
	var pr PutRequest
	if err := decodeStrict(body, &pr); err != nil {
		return credstore.PutOptions{}, "", err
	}
	if pr.APIKey == "" {
		return credstore.PutOptions{}, "", fmt.Errorf("%w: the body needs \"api_key\"", errBadRequest)
	}
	switch pr.Source {
	case "":
		pr.Source = credstore.SourceLogin
	case credstore.SourceLogin, credstore.SourceConfig, credstore.SourceGit, credstore.SourceRotate:
	default:
		return credstore.PutOptions{}, "", fmt.Errorf("%w: \"source\" must be login, config, git or rotate", errBadRequest)
	}
	return credstore.PutOptions{Source: pr.Source, CreatedAt: pr.CreatedAt, KeyID: pr.KeyID, APIURL: pr.APIURL}, pr.APIKey, nil
}

// decodeStrict decodes exactly one JSON object into v. Its errors quote no
// input: a body may hold a key.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %s", errBadRequest, jsonReason(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: the body holds more than one JSON value", errBadRequest)
	}
	return nil
}

// jsonReason describes a decoding error without echoing the input.
func jsonReason(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("the body is not valid JSON (at byte %d)", se.Offset)
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("%q must be a %s", te.Field, te.Type.Kind())
		}
		return "the body must be a JSON object"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the body ends before the JSON object does"
	}
	// DisallowUnknownFields: `json: unknown field "x"`. The name is the
	// caller's own; it is shown only when it cannot be a key.
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if len(f) <= 34 && !strings.Contains(f, "sk_") {
			return "unknown field " + f
		}
		return "the body has a field this daemon does not know"
	}
	return "the body cannot be decoded"
}

// answerOf is the wire form of a resolver answer.
func answerOf(r credstore.Resolution, rot *credstore.Rotation) Resolution {
	out := Resolution{Profile: r.Profile, APIKey: r.Key, APIKeySource: r.KeySource,
		APIURL: r.URL, APIURLSource: r.URLSource, NoAuth: r.NoAuth}
	if rot != nil {
		out.Rotation = &Rotation{AgeDays: rot.AgeDays, DueAt: rot.DueAt, Due: rot.Due}
	}
	return out
}

// Resolution converts the wire answer back to the resolver's.
func (r Resolution) Resolution() credstore.Resolution {
	return credstore.Resolution{Profile: r.Profile, Key: r.APIKey, KeySource: r.APIKeySource,
		URL: r.APIURL, URLSource: r.APIURLSource, NoAuth: r.NoAuth}
}
