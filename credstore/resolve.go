package credstore

import (
	"context"
	"errors"

	"github.com/torale-ai/torale-cred/internal/toraleconfig"
)

// Where a key or URL came from, as every answer reports it.
const (
	FromFlag     = "flag"
	FromEnv      = "env"
	FromKeychain = "keychain"
	FromConfig   = "config"
	FromNone     = "none"
	FromDev      = "dev"     // URL: localhost:8000 for TORALE_DEV=1 / TORALE_NOAUTH=1
	FromProfile  = "profile" // URL: the api_url remembered in the profile's metadata
	FromDefault  = "default" // URL: https://api.torale.ai
)

// Well-known URLs.
const (
	DefaultAPIURL = "https://api.torale.ai"
	DevAPIURL     = "http://localhost:8000"
)

// Env is the caller's Torale environment. The SDK compares the flags to the
// string "1" exactly, so TORALE_DEV=true is not dev mode.
type Env struct {
	APIKey string `json:"TORALE_API_KEY,omitempty"`
	APIURL string `json:"TORALE_API_URL,omitempty"`
	Dev    string `json:"TORALE_DEV,omitempty"`
	NoAuth string `json:"TORALE_NOAUTH,omitempty"`
}

// EnvFrom reads the four variables through getenv.
func EnvFrom(getenv func(string) string) Env {
	return Env{APIKey: getenv("TORALE_API_KEY"), APIURL: getenv("TORALE_API_URL"),
		Dev: getenv("TORALE_DEV"), NoAuth: getenv("TORALE_NOAUTH")}
}

// DevMode reports whether the URL order's localhost tier applies.
func (e Env) DevMode() bool { return e.Dev == "1" || e.NoAuth == "1" }

// Request is one look-up: the caller's profile, flag values and environment.
type Request struct {
	Profile string
	FlagKey string
	FlagURL string
	Env     Env
}

// Resolution is the answer to a look-up, each value with where it came from.
type Resolution struct {
	Profile   string
	Key       string
	KeySource string
	URL       string
	URLSource string
	NoAuth    bool
	// KeychainErr is set when the keychain failed but a lower tier answered,
	// so callers can still warn about it.
	KeychainErr error
}

// Tiers supplies the stored tiers; a Resolver asks only as far down as it
// must, so a flag or environment key never touches D-Bus.
type Tiers interface {
	// StoredKey: the keychain's key, ErrNotFound, or an ErrKeychain error.
	StoredKey(ctx context.Context, profile string) (string, error)
	// Plaintext: config.json as the official tools see it, for profile
	// (empty when config.json does not belong to that profile or is absent).
	Plaintext(profile string) toraleconfig.Config
	// ProfileURL: the api_url remembered for profile, or "".
	ProfileURL(profile string) string
}

// Resolve applies Torale's orders: key flag > TORALE_API_KEY > keychain >
// config.json; URL flag > TORALE_API_URL > localhost:8000 in dev mode >
// config.json api_url > the profile's remembered api_url > api.torale.ai.
//
// Errors: ErrNotFound when no tier has a key and TORALE_NOAUTH is not 1; an
// ErrKeychain error when the keychain failed and no lower tier answered.
func Resolve(ctx context.Context, req Request, t Tiers) (Resolution, error) {
	r := Resolution{Profile: req.Profile, NoAuth: req.Env.NoAuth == "1"}
	var plain *toraleconfig.Config
	plaintext := func() toraleconfig.Config {
		if plain == nil {
			c := t.Plaintext(req.Profile)
			plain = &c
		}
		return *plain
	}

	r.URL, r.URLSource = resolveURL(req, plaintext, t.ProfileURL)

	switch {
	case req.FlagKey != "":
		r.Key, r.KeySource = req.FlagKey, FromFlag
		return r, nil
	case req.Env.APIKey != "":
		r.Key, r.KeySource = req.Env.APIKey, FromEnv
		return r, nil
	}
	key, err := t.StoredKey(ctx, req.Profile)
	switch {
	case err == nil:
		r.Key, r.KeySource = key, FromKeychain
		return r, nil
	case !errors.Is(err, ErrNotFound):
		r.KeychainErr = err
	}
	if k := plaintext().APIKey; k != "" {
		r.Key, r.KeySource = k, FromConfig
		return r, nil
	}
	r.KeySource = FromNone
	if r.NoAuth {
		return r, nil
	}
	if r.KeychainErr != nil {
		return r, r.KeychainErr
	}
	return r, ErrNotFound
}

// ResolveURL applies the URL order alone, never touching the keychain.
func ResolveURL(req Request, t Tiers) (url, source string) {
	return resolveURL(req, func() toraleconfig.Config { return t.Plaintext(req.Profile) }, t.ProfileURL)
}

func resolveURL(req Request, plaintext func() toraleconfig.Config, profileURL func(string) string) (string, string) {
	switch {
	case req.FlagURL != "":
		return req.FlagURL, FromFlag
	case req.Env.APIURL != "":
		return req.Env.APIURL, FromEnv
	case req.Env.DevMode():
		return DevAPIURL, FromDev
	case plaintext().APIURL != "":
		return plaintext().APIURL, FromConfig
	}
	if u := profileURL(req.Profile); u != "" {
		return u, FromProfile
	}
	return DefaultAPIURL, FromDefault
}
