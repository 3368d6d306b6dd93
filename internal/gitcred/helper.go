package gitcred

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/internal/toraleconfig"
)

// Keys is the key store as the helper needs it. *credstore.Store satisfies
// it; the CLI passes one that goes through the daemon when it runs.
type Keys interface {
	// Resolve applies flag > environment > stored for one profile.
	Resolve(ctx context.Context, req credstore.Request) (credstore.Resolution, error)
	// StoredKey is the keychain's key alone (ErrNotFound, ErrKeychain).
	StoredKey(ctx context.Context, profile string) (string, error)
	Put(ctx context.Context, profile, key string, o credstore.PutOptions) error
	Delete(ctx context.Context, profile string) error
	// Metadata is state.json: the profiles and their api_url.
	Metadata() (*credstore.State, error)
	// Plaintext is config.json as seen for profile (its api_url).
	Plaintext(profile string) toraleconfig.Config
}

// Helper answers git's get, store and erase for the Torale API hosts the
// user has configured, and stays silent for every other host so git asks
// its next helper.
type Helper struct {
	Keys Keys
	// Profile is the selected profile: --profile, TORALE_PROFILE, "default".
	Profile string
	// ConfigProfile is the profile config.json's key and api_url belong to.
	ConfigProfile string
	// Env is git's Torale environment: TORALE_API_KEY beats the stored key,
	// TORALE_DEV=1 / TORALE_NOAUTH=1 add http://localhost:8000.
	Env credstore.Env
	// Stderr receives a sentence when a store or erase is declined.
	Stderr io.Writer
}

// target is a scheme and a host[:port], lower-cased, default port dropped:
// what git's protocol and host attributes name.
type target struct{ scheme, host string }

func (t target) String() string { return t.scheme + "://" + t.host }

func newTarget(scheme, host string) (target, bool) {
	scheme, host = strings.ToLower(scheme), strings.ToLower(host)
	if scheme == "" || host == "" {
		return target{}, false
	}
	switch scheme {
	case "https":
		host = strings.TrimSuffix(host, ":443")
	case "http":
		host = strings.TrimSuffix(host, ":80")
	}
	return target{scheme, host}, true
}

// targetOfURL is the target an API URL is reached at; false when the URL
// names no scheme and host.
func targetOfURL(raw string) (target, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return target{}, false
	}
	return newTarget(u.Scheme, u.Host)
}

// requestTarget is where git wants to go. A request without protocol or
// host gets nothing: a blank pattern must never match (CVE-2020-11008).
func requestTarget(c Credential) (target, bool) {
	if c.Protocol == "" || c.Host == "" {
		return target{}, false
	}
	return newTarget(c.Protocol, c.Host)
}

// KnownURLs lists the Torale API URLs the helper answers for, as
// "scheme://host[:port]": https://api.torale.ai, every profile's api_url,
// config.json's api_url, and http://localhost:8000 when dev is true. Each
// appears once, in that order.
func KnownURLs(meta *credstore.State, configURL string, dev bool) []string {
	var out []string
	add := func(raw string) {
		if t, ok := targetOfURL(raw); ok && !slices.Contains(out, t.String()) {
			out = append(out, t.String())
		}
	}
	add(credstore.DefaultAPIURL)
	if meta != nil {
		for _, n := range meta.Names() {
			if p := meta.Profiles[n]; p.APIURL != nil {
				add(*p.APIURL)
			}
		}
	}
	add(configURL)
	if dev {
		add(credstore.DevAPIURL)
	}
	return out
}

// profileTargets are the hosts a profile's key may be sent to: its api_url
// (remembered, or config.json's for the profile config.json belongs to),
// else api.torale.ai; and localhost:8000 in dev mode, as Torale's SDK does.
func (h *Helper) profileTargets(profile string, meta *credstore.State) []target {
	var ts []target
	add := func(raw string) {
		if t, ok := targetOfURL(raw); ok {
			ts = append(ts, t)
		}
	}
	if p := meta.Profiles[profile]; p != nil && p.APIURL != nil {
		add(*p.APIURL)
	}
	if profile == h.ConfigProfile {
		add(h.Keys.Plaintext(profile).APIURL)
	}
	if len(ts) == 0 {
		add(credstore.DefaultAPIURL)
	}
	if h.Env.DevMode() {
		add(credstore.DevAPIURL)
	}
	return ts
}

// scope is a parsed request that names a known host, with the metadata
// read to decide it.
type scope struct {
	target target
	meta   *credstore.State
}

// known returns the request's scope, or false when git asked about a host
// this helper does not answer for (or told it to quit).
func (h *Helper) known(c Credential) (scope, bool, error) {
	t, ok := requestTarget(c)
	if !ok || c.Quit {
		return scope{}, false, nil
	}
	cfgURL := ""
	if h.ConfigProfile != "" {
		cfgURL = h.Keys.Plaintext(h.ConfigProfile).APIURL
	}
	meta, err := h.Keys.Metadata()
	if err != nil {
		// Without the metadata a self-hosted host cannot be recognised.
		// Complain only about hosts that are surely Torale's, so a broken
		// state.json does not put an error on every git fetch elsewhere.
		if slices.Contains(KnownURLs(nil, cfgURL, h.Env.DevMode()), t.String()) {
			return scope{}, false, err
		}
		return scope{}, false, nil
	}
	if !slices.Contains(KnownURLs(meta, cfgURL, h.Env.DevMode()), t.String()) {
		return scope{}, false, nil
	}
	return scope{t, meta}, true, nil
}

// matches reports whether profile's key may go to the request's host.
func (h *Helper) matches(s scope, profile string) bool {
	return slices.Contains(h.profileTargets(profile, s.meta), s.target)
}

// Get answers a "get": username=<profile> and password=<key> for a known
// host, chosen by flag > environment > stored. The profile is the request's
// username when it names one, else the selected profile, else any other
// profile of that host (in name order) that has a key. ok is false when
// there is nothing to say; err only when the keychain or metadata failed.
func (h *Helper) Get(ctx context.Context, c Credential) (answer Credential, ok bool, err error) {
	s, ok, err := h.known(c)
	if !ok || err != nil {
		return Credential{}, false, err
	}
	for _, p := range h.candidates(c.Username, s.meta) {
		if !h.matches(s, p) {
			continue
		}
		r, err := h.Keys.Resolve(ctx, credstore.Request{Profile: p, Env: h.Env})
		if errors.Is(err, credstore.ErrNotFound) && !errors.Is(err, credstore.ErrKeychain) {
			continue
		}
		if err != nil {
			return Credential{}, false, err
		}
		if r.Key == "" { // TORALE_NOAUTH=1 and no key anywhere
			continue
		}
		if r.KeySource == credstore.FromEnv && h.Env.APIURL != "" {
			// TORALE_API_KEY came with TORALE_API_URL: it belongs to that
			// server and to no other, whichever profile asks.
			if t, ok := targetOfURL(h.Env.APIURL); !ok || t != s.target {
				return Credential{}, false, nil
			}
		}
		return Credential{Username: p, Password: r.Key}, true, nil
	}
	return Credential{}, false, nil
}

// candidates are the profiles to try for a get, in order.
func (h *Helper) candidates(username string, meta *credstore.State) []string {
	if h.namesProfile(username, meta) {
		return []string{username}
	}
	out := []string{h.Profile}
	for _, n := range meta.Names() {
		if n != h.Profile {
			out = append(out, n)
		}
	}
	return out
}

// namesProfile: username is a profile this user has (metadata, the
// selected one, or config.json's).
func (h *Helper) namesProfile(username string, meta *credstore.State) bool {
	if username == "" || credstore.CheckProfile(username) != nil {
		return false
	}
	_, inMeta := meta.Profiles[username]
	return inMeta || username == h.Profile || username == h.ConfigProfile
}

// profileFor is the profile a store or erase acts on: the username when it
// is a valid profile name, the selected profile when there is none; false
// for a username that cannot be a profile.
func (h *Helper) profileFor(username string) (string, bool) {
	switch {
	case username == "":
		return h.Profile, true
	case credstore.CheckProfile(username) == nil:
		return username, true
	}
	return "", false
}

// Store answers a "store" (git credential approve): it keeps the password
// as the profile's key when it is a well-formed Torale key for one of the
// profile's hosts. Approving the key Get just answered changes nothing, so
// a key from TORALE_API_KEY is never written to the keychain this way.
func (h *Helper) Store(ctx context.Context, c Credential) error {
	s, ok, err := h.known(c)
	if !ok || err != nil {
		return err
	}
	profile, ok := h.profileFor(c.Username)
	if !ok {
		h.notef("not storing the password for %s: username %q is not a profile name", s.target, c.Username)
		return nil
	}
	if !credstore.ValidKey(c.Password) {
		h.notef("not storing the password for %s: it is not a Torale API key (sk_ followed by 32 to 128 letters, digits, - or _)", s.target)
		return nil
	}
	if !h.matches(s, profile) {
		h.notef("not storing a key for %s in profile %q: that profile's API URL is another server", s.target, profile)
		return nil
	}
	r, err := h.Keys.Resolve(ctx, credstore.Request{Profile: profile, Env: h.Env})
	if err != nil && !(errors.Is(err, credstore.ErrNotFound) && !errors.Is(err, credstore.ErrKeychain)) {
		return err
	}
	if r.Key == c.Password {
		return nil
	}
	return h.Keys.Put(ctx, profile, c.Password, credstore.PutOptions{Source: credstore.SourceGit})
}

// Erase answers an "erase" (git credential reject): it removes the
// profile's key only when the password given is exactly the stored key, so
// a stale or wrong key never wipes a good one.
func (h *Helper) Erase(ctx context.Context, c Credential) error {
	s, ok, err := h.known(c)
	if !ok || err != nil || c.Password == "" {
		return err
	}
	profile, ok := h.profileFor(c.Username)
	if !ok || !h.matches(s, profile) {
		return nil
	}
	stored, err := h.Keys.StoredKey(ctx, profile)
	if errors.Is(err, credstore.ErrNotFound) && !errors.Is(err, credstore.ErrKeychain) {
		return nil
	}
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(stored), []byte(c.Password)) != 1 {
		return nil
	}
	err = h.Keys.Delete(ctx, profile)
	if errors.Is(err, credstore.ErrNotFound) && !errors.Is(err, credstore.ErrKeychain) {
		return nil
	}
	if err == nil {
		h.notef("removed the key for profile %q, which %s rejected", profile, s.target)
	}
	return err
}

func (h *Helper) notef(format string, a ...any) {
	if h.Stderr != nil {
		fmt.Fprintf(h.Stderr, "git-credential-torale: "+format+"\n", a...)
	}
}
