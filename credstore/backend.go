package credstore

import (
	"context"
	"encoding/json"
	"time"
)

// Backend is the one seam every door looks keys up through: the socket
// server serves one, the CLI and the git helper call one, and the daemon's
// client (ipc.Client) is one too, so an answer cannot depend on the door.
// *Store is the local implementation.
//
// Errors are told apart with errors.Is: ErrNotFound (no key), ErrKeychain
// (unavailable, locked, timed out: never "no key"), ErrBadKey, ErrBadProfile,
// ErrBadURL and ErrBadRequest.
type Backend interface {
	// Resolve applies flag > environment > stored to the caller's request.
	Resolve(ctx context.Context, req Request) (Resolution, error)
	// Stored is the keychain tier alone for profile, with its URL.
	Stored(ctx context.Context, profile string) (Resolution, error)
	// List is every profile's metadata, never a key.
	List(ctx context.Context) ([]ProfileInfo, error)
	// Put stores key for profile and returns the profile's new metadata.
	Put(ctx context.Context, profile, key string, o PutOptions) (ProfileInfo, error)
	// Delete removes profile's key and metadata (ErrNotFound: there was no key).
	Delete(ctx context.Context, profile string) error
	// Health is nil when the keychain answers, else why it does not.
	Health(ctx context.Context) error
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
// string "1" exactly, so TORALE_DEV=true is not dev mode. Config and
// StateDir are the caller's own paths, when it set them: a daemon serving
// other paths answers from those instead, as the caller would without it.
type Env struct {
	APIKey  string `json:"TORALE_API_KEY,omitempty"`
	APIURL  string `json:"TORALE_API_URL,omitempty"`
	Dev     string `json:"TORALE_DEV,omitempty"`
	NoAuth  string `json:"TORALE_NOAUTH,omitempty"`
	Profile string `json:"TORALE_PROFILE,omitempty"`
	// Config is TORALE_CONFIG (or --torale-config), absolute.
	Config string `json:"TORALE_CONFIG,omitempty"`
	// StateDir is TORALE_CRED_STATE_DIR, absolute.
	StateDir string `json:"TORALE_CRED_STATE_DIR,omitempty"`
}

// EnvFrom reads the Torale variables through getenv.
func EnvFrom(getenv func(string) string) Env {
	return Env{APIKey: getenv("TORALE_API_KEY"), APIURL: getenv("TORALE_API_URL"),
		Dev: getenv("TORALE_DEV"), NoAuth: getenv("TORALE_NOAUTH"), Profile: getenv("TORALE_PROFILE"),
		Config: getenv("TORALE_CONFIG"), StateDir: getenv("TORALE_CRED_STATE_DIR")}
}

// DevMode reports whether the URL order's localhost tier applies.
func (e Env) DevMode() bool { return e.Dev == "1" || e.NoAuth == "1" }

// vars maps the wire names onto the fields, for UnmarshalJSON.
func (e *Env) vars() map[string]*string {
	return map[string]*string{"TORALE_API_KEY": &e.APIKey, "TORALE_API_URL": &e.APIURL,
		"TORALE_DEV": &e.Dev, "TORALE_NOAUTH": &e.NoAuth, "TORALE_PROFILE": &e.Profile,
		"TORALE_CONFIG": &e.Config, "TORALE_CRED_STATE_DIR": &e.StateDir}
}

// UnmarshalJSON takes the Torale variables and ignores the rest, so a
// caller may pass its whole environment; each of ours must be a string.
// (Duplicate names are refused by the strict decoder before this runs.)
func (e *Env) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	for name, dst := range e.vars() {
		if v, ok := m[name]; ok {
			if err := json.Unmarshal(v, dst); err != nil {
				return badRequestf("env.%s must be a string", name)
			}
		}
	}
	return nil
}

// Resolution is the answer to a look-up, each value with where it came
// from, and the stored key's rotation status. It is also the wire form of
// /v1/resolve and GET /v1/credentials/{profile}: nothing is converted on
// the way through.
type Resolution struct {
	Profile   string `json:"profile"`
	Key       string `json:"api_key"`
	KeySource string `json:"api_key_source"`
	URL       string `json:"api_url"`
	URLSource string `json:"api_url_source"`
	NoAuth    bool   `json:"noauth"`
	// Rotation is nil when the profile has no metadata.
	Rotation *Rotation `json:"rotation"`
	// KeychainProblem is set when the keychain failed but a lower tier
	// (config.json) answered, so every door can warn the same way.
	KeychainProblem string `json:"keychain_problem,omitempty"`
}

// ProfileInfo is one profile's metadata with its rotation status: never a
// key. It is the wire form of GET /v1/credentials and of PUT's answer.
type ProfileInfo struct {
	Name string `json:"profile"`
	Profile
	Rotation *Rotation `json:"rotation"`
	// Policy is who may receive the key; absent: open.
	Policy *Policy `json:"policy,omitempty"`
}

// PutOptions describe where a key came from. They are also the body of
// PUT /v1/credentials/{profile}, beside "api_key".
type PutOptions struct {
	Source    string     `json:"source,omitempty"`
	CreatedAt *time.Time `json:"created_at,omitempty"` // from the server, when known
	KeyID     *string    `json:"key_id,omitempty"`
	// APIURL is the profile's URL tier: set only by `login --api-url`
	// (never by a migration).
	APIURL *string `json:"api_url,omitempty"`
}
