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
	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/internal/safetext"
)

// Helper answers git's get, store and erase for the Torale API hosts the
// user has configured, and stays silent for every other host so git asks
// its next helper. Every look-up and change goes through Keys, the same
// Backend the CLI uses (the daemon's client while it runs).
//
// Which hosts a profile's key may go to is the resolver's own answer: the
// URL that profile resolves to with git's environment. A plain-http host
// is answered only when the user named that URL (flag, environment,
// config.json or login --api-url), never for dev mode's localhost alone.
type Helper struct {
	Keys credstore.Backend
	// Profile is the selected profile: --profile, TORALE_PROFILE, "default".
	Profile string
	// Chosen: the profile was named (--profile or TORALE_PROFILE), so no
	// other profile answers when git sends no username.
	Chosen bool
	// Env is git's Torale environment and paths, as the CLI sends them.
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

// scope is a request for a host one of the user's profiles may send its
// key to, with the profiles that may.
type scope struct {
	target   target
	profiles []string // in the order they are tried
}

// resolveFor is profile's look-up with git's environment.
func (h *Helper) resolveFor(ctx context.Context, profile string) (credstore.Resolution, error) {
	return h.Keys.Resolve(ctx, credstore.Request{Profile: profile, Env: h.Env})
}

// allowed reports whether profile's key may go to t: t is the host of the
// URL profile resolves to, and plain http only when the user named it.
func allowed(r credstore.Resolution, t target) bool {
	u, ok := targetOfURL(r.URL)
	if !ok || u != t {
		return false
	}
	return t.scheme == "https" || r.URLSource != credstore.FromDev && r.URLSource != credstore.FromDefault
}

// known returns the request's scope, or false when git asked about a host
// no profile may send its key to (or told the helper to quit).
func (h *Helper) known(ctx context.Context, c Credential) (scope, bool, error) {
	t, ok := requestTarget(c)
	if !ok || c.Quit {
		return scope{}, false, nil
	}
	infos, err := h.Keys.List(ctx)
	if err != nil {
		// Without the metadata a self-hosted host cannot be recognised.
		// Complain only about Torale's own host, so a broken state.json
		// does not put an error on every git fetch elsewhere.
		if d, _ := targetOfURL(credstore.DefaultAPIURL); d == t {
			return scope{}, false, err
		}
		return scope{}, false, nil
	}
	var s scope
	s.target = t
	names := h.candidates(infos)
	if c.Username != "" && credstore.CheckProfile(c.Username) == nil && !slices.Contains(names, c.Username) {
		names = append(names, c.Username) // a profile git is about to create (store)
	}
	for _, p := range names {
		r, err := h.Keys.Resolve(ctx, credstore.Request{Profile: p, Env: h.Env, URLOnly: true})
		if errors.Is(err, credstore.ErrBadURL) {
			continue // a broken URL tier names no host
		}
		if allowed(r, t) {
			s.profiles = append(s.profiles, p)
		}
	}
	return s, len(s.profiles) > 0, nil
}

// KnownURLs lists, as "scheme://host[:port]", every host some profile may
// send its key to (what setup-git configures git for): always
// https://api.torale.ai, then each profile's own, once each.
func (h *Helper) KnownURLs(ctx context.Context) ([]string, error) {
	out := []string{}
	add := func(t target) {
		if !slices.Contains(out, t.String()) {
			out = append(out, t.String())
		}
	}
	if t, ok := targetOfURL(credstore.DefaultAPIURL); ok {
		add(t)
	}
	infos, err := h.Keys.List(ctx)
	if err != nil {
		return out, err
	}
	for _, p := range h.candidates(infos) {
		r, err := h.Keys.Resolve(ctx, credstore.Request{Profile: p, Env: h.Env, URLOnly: true})
		if err != nil {
			continue
		}
		if t, ok := targetOfURL(r.URL); ok && allowed(r, t) {
			add(t)
		}
	}
	return out, nil
}

// candidates are the profiles that may answer, in order: the selected
// profile, and, unless the user chose it (--profile, TORALE_PROFILE), every
// other profile in name order. A username that names a profile narrows
// them to it (Get, Store, Erase).
func (h *Helper) candidates(infos []credstore.ProfileInfo) []string {
	out := []string{h.Profile}
	for _, in := range infos {
		if in.Name != h.Profile {
			out = append(out, in.Name)
		}
	}
	return out
}

// Get answers a "get": username=<profile> and password=<key> for a known
// host, chosen by flag > environment > stored. ok is false when there is
// nothing to say; err only when the keychain or metadata failed.
func (h *Helper) Get(ctx context.Context, c Credential) (answer Credential, ok bool, err error) {
	s, ok, err := h.known(ctx, c)
	if !ok || err != nil {
		return Credential{}, false, err
	}
	order := s.profiles
	switch {
	case c.Username != "" && credstore.CheckProfile(c.Username) == nil:
		order = []string{c.Username}
	case h.Chosen:
		order = []string{h.Profile}
	}
	for _, p := range order {
		if !slices.Contains(s.profiles, p) {
			continue
		}
		// The answer hands the key to git: the audit trail's "git" door.
		r, err := h.resolveFor(credstore.WithDoor(ctx, credstore.DoorGit), p)
		if errors.Is(err, storeerr.ErrNotFound) && !errors.Is(err, storeerr.ErrKeychain) {
			continue
		}
		if err != nil {
			return Credential{}, false, err
		}
		if r.Key == "" { // TORALE_NOAUTH=1 and no key anywhere
			continue
		}
		return Credential{Username: p, Password: r.Key}, true, nil
	}
	return Credential{}, false, nil
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
	s, ok, err := h.known(ctx, c)
	if !ok || err != nil {
		return err
	}
	profile, ok := h.profileFor(c.Username)
	if !ok {
		h.notef("not storing the password for %s: username %q is not a profile name", s.target, c.Username)
		return nil
	}
	if !apikey.Valid(c.Password) {
		h.notef("not storing the password for %s: it is not a Torale API key (sk_ followed by 32 to 128 letters, digits, - or _)", s.target)
		return nil
	}
	if !slices.Contains(s.profiles, profile) {
		h.notef("not storing a key for %s in profile %q: that profile's API URL is another server", s.target, profile)
		return nil
	}
	// The caller's own key (flag or environment) is not torale-cred's to
	// keep; Put itself leaves the stored key as it was, and a new one is
	// judged and recorded as git's.
	if c.Password == h.Env.APIKey {
		return nil
	}
	_, err = h.Keys.Put(credstore.WithDoor(ctx, credstore.DoorGit), profile, c.Password, credstore.PutOptions{Source: credstore.SourceGit})
	return err
}

// Erase answers an "erase" (git credential reject): it removes the
// profile's key only when the password given is exactly the stored key, so
// a stale or wrong key never wipes a good one.
func (h *Helper) Erase(ctx context.Context, c Credential) error {
	s, ok, err := h.known(ctx, c)
	if !ok || err != nil || c.Password == "" {
		return err
	}
	profile, ok := h.profileFor(c.Username)
	if !ok || !slices.Contains(s.profiles, profile) {
		return nil
	}
	ctx = credstore.WithDoor(ctx, credstore.DoorGit)
	r, err := h.Keys.Stored(ctx, profile)
	stored := r.Key
	if errors.Is(err, storeerr.ErrNotFound) && !errors.Is(err, storeerr.ErrKeychain) {
		return nil
	}
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(stored), []byte(c.Password)) != 1 {
		return nil
	}
	err = h.Keys.Delete(ctx, profile)
	if errors.Is(err, storeerr.ErrNotFound) && !errors.Is(err, storeerr.ErrKeychain) {
		return nil
	}
	if err == nil {
		h.notef("removed the key for profile %q, which %s rejected", profile, s.target)
	}
	return err
}

func (h *Helper) notef(format string, a ...any) {
	if h.Stderr != nil {
		fmt.Fprintln(h.Stderr, "git-credential-torale: "+safetext.Text(fmt.Sprintf(format, a...), 0))
	}
}
