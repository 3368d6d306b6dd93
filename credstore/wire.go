package credstore

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/internal/safetext"
)

// Defaults every door agrees on.
const (
	// DefaultProfile is used when neither --profile nor TORALE_PROFILE names one.
	DefaultProfile = "default"
	// DefaultRotationPeriod is Torale's documented best practice.
	DefaultRotationPeriod = 90 * 24 * time.Hour
	// ConfirmTimeout is how long `confirm` waits for the user's answer;
	// clients wait this much longer once the daemon says it is asking
	// (102 Processing).
	ConfirmTimeout = 30 * time.Second
)

// The socket's framing, shared by the server and every client.
const (
	// MaxBodyBytes bounds every request body; a larger one is answered 413.
	MaxBodyBytes = 64 << 10
	// MaxAnswerBytes bounds what a client reads of an answer.
	MaxAnswerBytes = 1 << 20
	// DoorHeader names the door a look-up hands its key through (token,
	// exec, env, git, rotate, ...), for the audit trail. The daemon believes
	// it only from torale-cred's own executables; HintOnly from anyone.
	DoorHeader = "Torale-Cred-Door"
	// HintOnly as the DoorHeader asks for an answer without the key: its
	// hint only (torale-cred's own checks), so nothing is handed out.
	HintOnly = "none"
)

// Doors a key leaves torale-cred through (or a write comes in by), as the
// audit trail names them. A look-up with no door is one of torale-cred's
// own checks (status, login's "is there a key already"): it is answered
// with the key's hint, never the key.
const (
	DoorSocket = "socket" // a program asked the socket itself
	DoorToken  = "token"
	DoorExec   = "exec"
	DoorEnv    = "env"
	DoorGit    = "git"    // git-credential-torale
	DoorRotate = "rotate" // rotate's own calls to the Torale API
	DoorVerify = "verify" // status --verify, login --verify: GET /auth/me
	DoorRemind = "remind" // the daemon's own created_at look-up (https only)
	DoorLogin  = "login"  // a key stored by login or import
	DoorLogout = "logout" // a key removed by logout
	// DoorScan: scan --fix stored a key it found in a plaintext file.
	DoorScan = "scan"
	// DoorRestore: restore wrote the key back into config.json (uninstalling).
	DoorRestore = "restore"
	// DoorEndpoint: the local endpoint put the key into a request it
	// forwarded (never a door a socket client may name).
	DoorEndpoint = "endpoint"
	// DoorRemote: a remote session's endpoint put the key into a request
	// forwarded from another host (torale-cred ssh); the line names it.
	DoorRemote = "remote"
	// DoorSSH: torale-cred ssh opened a remote session (no key left).
	DoorSSH = "ssh"
)

// CheckDoor reports whether door is one of the names above.
func CheckDoor(door string) bool {
	switch door {
	case DoorSocket, DoorToken, DoorExec, DoorEnv, DoorGit, DoorRotate, DoorVerify, DoorRemind, DoorLogin, DoorLogout, DoorScan, DoorRestore:
		return true
	}
	return false
}

var (
	// ErrBadRequest: a request that cannot be understood (wire decoding).
	ErrBadRequest = errors.New("bad request")
	// ErrBadProfile is wrapped when a profile name is not acceptable.
	ErrBadProfile = errors.New("invalid profile name")
)

// BadRequestf is ErrBadRequest with a sentence.
func BadRequestf(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, a...))
}

// Request is one look-up: the caller's profile, its own flags and its
// environment. It is also the body of POST /v1/resolve.
type Request struct {
	Profile string `json:"profile,omitempty"`
	FlagKey string `json:"api_key,omitempty"`
	FlagURL string `json:"api_url,omitempty"`
	Env     Env    `json:"env,omitzero"`
	// RotateAfter is the caller's rotation period (--rotate-after), so the
	// rotation status does not depend on who answers; 0: the default.
	RotateAfterSeconds int64 `json:"rotate_after_seconds,omitempty"`
	// URLOnly asks for the URL alone: no key is read or returned (the git
	// helper deciding whether a host is the user's Torale server).
	URLOnly bool `json:"url_only,omitempty"`
}

// Env is the caller's Torale environment. The SDK compares the flags to the
// string "1" exactly, so TORALE_DEV=true is not dev mode. It names no path:
// the daemon reads its own files only.
type Env struct {
	APIKey  string `json:"TORALE_API_KEY,omitempty"`
	APIURL  string `json:"TORALE_API_URL,omitempty"`
	Dev     string `json:"TORALE_DEV,omitempty"`
	NoAuth  string `json:"TORALE_NOAUTH,omitempty"`
	Profile string `json:"TORALE_PROFILE,omitempty"`
}

// EnvFrom reads the Torale variables through getenv.
func EnvFrom(getenv func(string) string) Env {
	return Env{APIKey: getenv("TORALE_API_KEY"), APIURL: getenv("TORALE_API_URL"),
		Dev: getenv("TORALE_DEV"), NoAuth: getenv("TORALE_NOAUTH"), Profile: getenv("TORALE_PROFILE")}
}

// DevMode reports whether the URL order's localhost tier applies.
func (e Env) DevMode() bool { return e.Dev == "1" || e.NoAuth == "1" }

// Var is the field that holds the Torale variable name, nil for any other
// name: the one map from the wire's env names to Env's fields. A request's
// env takes our variables and ignores the rest, so a caller may pass its
// whole environment; ipc's decoder reads it through Var.
func (e *Env) Var(name string) *string {
	switch name {
	case "TORALE_API_KEY":
		return &e.APIKey
	case "TORALE_API_URL":
		return &e.APIURL
	case "TORALE_DEV":
		return &e.Dev
	case "TORALE_NOAUTH":
		return &e.NoAuth
	case "TORALE_PROFILE":
		return &e.Profile
	}
	return nil
}

// Resolution is the answer to a look-up, each value with where it came
// from, and the stored key's rotation status. It is also the wire form of
// /v1/resolve and GET /v1/credentials/{profile}.
type Resolution struct {
	Profile   string `json:"profile"`
	Key       string `json:"api_key"`
	KeySource string `json:"api_key_source"`
	URL       string `json:"api_url"`
	URLSource string `json:"api_url_source"`
	NoAuth    bool   `json:"noauth"`
	// Rotation is nil when the profile has no metadata.
	Rotation *Rotation `json:"rotation"`
	// KeyHint is the key as people see it (sk_...xyz89): set whenever a key
	// was found, also in an answer that holds no key (HintOnly).
	KeyHint string `json:"key_hint,omitempty"`
	// KeychainProblem is set when the keychain failed but a lower tier
	// (config.json) answered, so every door can warn the same way.
	KeychainProblem string `json:"keychain_problem,omitempty"`
}

// Rotation is how old a stored key is and when it is due.
type Rotation struct {
	AgeDays int       `json:"age_days"`
	DueAt   time.Time `json:"due_at"`
	Due     bool      `json:"due"`
}

// CheckProfile refuses names that could not be a keychain account or a
// git username: 1 to 64 letters, digits, '.', '_' or '-'.
func CheckProfile(name string) error {
	if !apikey.ValidProfileName(name) {
		shown := safetext.Text(name, 70)
		if strings.Contains(name, "sk_") {
			shown = apikey.KeyPrefix(name) + "…" // a key pasted where a profile goes: never echoed
		}
		return fmt.Errorf("%w %q: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", ErrBadProfile, shown)
	}
	return nil
}

// ProfileOf is the selected profile: the flag, else TORALE_PROFILE, else
// "default", checked. Every door chooses its profile here.
func ProfileOf(flag string, env Env) (string, error) {
	p := flag
	if p == "" {
		p = env.Profile
	}
	if p == "" {
		p = DefaultProfile
	}
	return p, CheckProfile(p)
}
