package credstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
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
	FromProfile  = "profile" // URL: the one set for the profile with login --api-url
	FromDefault  = "default" // URL: https://api.torale.ai
)

// Well-known URLs.
const (
	DefaultAPIURL = "https://api.torale.ai"
	DevAPIURL     = "http://localhost:8000"
)

// tiers supplies the stored tiers; resolve asks only as far down as it
// must, so a flag or environment key never touches D-Bus.
type tiers interface {
	// storedKey: the keychain's key, storeerr.ErrNotFound, or a
	// storeerr.ErrKeychain error.
	storedKey(ctx context.Context, profile string) (string, error)
	// plaintext: config.json as the official tools see it, when it belongs
	// to profile (empty otherwise, or when absent or untrusted).
	plaintext(profile string) toraleconfig.Config
	// plaintextNewer: config.json's key for profile was written after the
	// stored key (a move not made yet).
	plaintextNewer(profile string) bool
	// profileURL: the URL set for profile with login --api-url, or "".
	profileURL(profile string) string
}

// resolve applies Torale's orders: key flag > TORALE_API_KEY > keychain >
// config.json; URL flag > TORALE_API_URL > localhost:8000 in dev mode >
// config.json's api_url > the profile's login --api-url > api.torale.ai.
// The URL chosen is checked (CheckURL) whichever tier it came from.
//
// Errors: ErrBadURL for a bad URL; apikey.ErrBadKey when config.json's
// key, the tier that answers, is not well-formed (checkConfigKey);
// storeerr.ErrNotFound (a *NoKeyError) when no tier has a key and
// TORALE_NOAUTH is not 1; a storeerr.ErrKeychain error when the keychain
// failed and no lower tier answered.
func resolve(ctx context.Context, req Request, t tiers) (Resolution, error) {
	r := Resolution{Profile: req.Profile, NoAuth: req.Env.NoAuth == "1"}
	var err error
	if r.URL, r.URLSource, err = resolveURL(req, t); err != nil || req.URLOnly {
		return r, err
	}
	switch {
	case req.FlagKey != "":
		r.Key, r.KeySource = req.FlagKey, FromFlag
		return r, nil
	case req.Env.APIKey != "":
		r.Key, r.KeySource = req.Env.APIKey, FromEnv
		return r, nil
	}
	key, kerr := t.storedKey(ctx, req.Profile)
	switch {
	case kerr == nil && (t.plaintext(req.Profile).APIKey == "" || t.plaintext(req.Profile).APIKey == key || !t.plaintextNewer(req.Profile)):
		r.Key, r.KeySource = key, FromKeychain
		return r, nil
	case kerr == nil: // config.json's newer key, below
	case !errors.Is(kerr, storeerr.ErrNotFound):
		r.KeychainProblem = kerr.Error()
	}
	if k := t.plaintext(req.Profile).APIKey; k != "" {
		if err := checkConfigKey(k); err != nil {
			r.KeySource = FromNone
			return r, err
		}
		r.Key, r.KeySource = k, FromConfig
		return r, nil
	}
	r.KeySource = FromNone
	switch {
	case r.NoAuth:
		return r, nil
	case kerr != nil && !errors.Is(kerr, storeerr.ErrNotFound):
		return r, kerr
	}
	return r, &NoKeyError{Profile: req.Profile}
}

// checkConfigKey refuses a config.json key that is not a Torale key. The
// file is written by hand and by other tools: a value holding escape
// sequences or a second line would reach a terminal through token, an
// environment through exec and env, git through the helper. The error
// shows at most its first 7 characters, escaped (apikey.Parse's rule).
func checkConfigKey(k string) error {
	if apikey.Valid(k) {
		return nil
	}
	detail := "it has white space around it"
	if _, err := apikey.Parse(k); err != nil {
		detail = strings.TrimPrefix(err.Error(), apikey.ErrBadKey.Error()+": ")
	}
	return fmt.Errorf("%w: config.json's api_key is not a Torale key, so it is not handed out: %s; fix it there, or store the right key with torale-cred login", apikey.ErrBadKey, detail)
}

// resolveURL applies the URL order alone, never touching the keychain.
func resolveURL(req Request, t tiers) (url, source string, err error) {
	tier := ""
	switch {
	case req.FlagURL != "":
		url, source, tier = req.FlagURL, FromFlag, "--api-url"
	case req.Env.APIURL != "":
		url, source, tier = req.Env.APIURL, FromEnv, "TORALE_API_URL"
	case req.Env.DevMode():
		url, source = DevAPIURL, FromDev
	default:
		if u := t.plaintext(req.Profile).APIURL; u != "" {
			url, source, tier = u, FromConfig, "config.json's api_url"
		} else if u := t.profileURL(req.Profile); u != "" {
			url, source, tier = u, FromProfile, "the API URL set for profile "+req.Profile+" (torale-cred login --api-url)"
		} else {
			url, source = DefaultAPIURL, FromDefault
		}
	}
	if tier != "" {
		if err := CheckURL(url, tier); err != nil {
			return "", source, err
		}
	}
	return url, source, nil
}

// CheckCallerURL applies CheckURL to the URL the caller brings itself (its
// --api-url, else TORALE_API_URL), the tier that would be used: a client
// checks it before asking, so a bad or oversized one gets the same
// sentence with or without the daemon.
func CheckCallerURL(req Request) error {
	if req.FlagURL == "" && req.Env.APIURL == "" {
		return nil
	}
	_, _, err := resolveURL(req, noTiers{})
	return err
}

// noTiers has nothing stored.
type noTiers struct{}

func (noTiers) storedKey(context.Context, string) (string, error) { return "", storeerr.ErrNotFound }
func (noTiers) plaintext(string) toraleconfig.Config              { return toraleconfig.Config{} }
func (noTiers) plaintextNewer(string) bool                        { return false }
func (noTiers) profileURL(string) string                          { return "" }
