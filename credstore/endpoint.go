package credstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/internal/toraleconfig"
)

// The local endpoint's names (SPEC: "Local Torale endpoint"). A local
// token is "tcl_" and 32 URL-safe characters: never a Torale key (those
// start with sk_), worthless off this machine, one per profile. state.json
// keeps only its SHA-256 (no secret in it); the token itself is kept in the
// keychain beside the profile's key, so a later migration writes the same
// token again and a client holding it keeps working.
const (
	LocalTokenPrefix = "tcl_"
	localTokenChars  = 32
	// EndpointHost is the only address the endpoint listens on.
	EndpointHost = "127.0.0.1"
	// tokenAccountPrefix files a profile's local token in the keychain
	// under an account no profile can have (':' is not allowed in one).
	tokenAccountPrefix = "local-token:"
)

// Endpoint is the endpoint's part of state.json. Never a token in it.
type Endpoint struct {
	// Port is the user's loopback port, chosen once (0: not chosen yet).
	Port int `json:"port,omitempty"`
	// Off: the daemon runs with --no-endpoint, so a migration leaves
	// config.json without a key instead of writing a local token.
	Off bool `json:"off,omitempty"`
	// Tokens are each profile's current local token, by hash.
	Tokens map[string]LocalToken `json:"tokens,omitempty"`
	// ConfigAPIURL is the URL config.json named before it named the
	// endpoint: config.json's own URL tier while it names the endpoint
	// ("" when it named none, meaning the tiers below it).
	ConfigAPIURL string `json:"config_api_url,omitempty"`
	// FormerPorts are ports the endpoint had before (another program held
	// the port at a start, or --endpoint-port moved it): a config.json
	// still naming one of them names the endpoint, never a real URL of the
	// user's (a real key must never go to whatever listens there now), and
	// the watcher points it at the current port.
	FormerPorts []int `json:"former_ports,omitempty"`
}

// maxFormerPorts bounds FormerPorts (the oldest go first).
const maxFormerPorts = 8

// NamesFormer reports whether raw names one of the endpoint's former
// ports (and not its current one).
func (e *Endpoint) NamesFormer(raw string) bool {
	if e == nil || e.Names(raw) {
		return false
	}
	for _, p := range e.FormerPorts {
		if (&Endpoint{Port: p}).Names(raw) {
			return true
		}
	}
	return false
}

// LocalToken is one profile's local token as state.json knows it.
type LocalToken struct {
	SHA256   string    `json:"sha256"`
	Hint     string    `json:"hint"`
	IssuedAt time.Time `json:"issued_at"`
}

// URL is the endpoint's URL, "" while it has no port.
func (e *Endpoint) URL() string {
	if e == nil || e.Port <= 0 {
		return ""
	}
	return "http://" + net.JoinHostPort(EndpointHost, strconv.Itoa(e.Port))
}

// Active reports whether a migration writes a local token: a port chosen
// and the endpoint not turned off.
func (e *Endpoint) Active() bool { return e != nil && e.Port > 0 && !e.Off }

// Names reports whether raw is the endpoint's URL (a trailing slash or
// "localhost" for 127.0.0.1 alike).
func (e *Endpoint) Names(raw string) bool {
	if e == nil || e.Port <= 0 || raw == "" {
		return false
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Scheme != "http" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return false
	}
	h := u.Hostname()
	return (h == EndpointHost || h == "localhost") && u.Port() == strconv.Itoa(e.Port)
}

// ProfileOf is the profile whose current local token tok is ("", false
// for none). Every stored hash is compared in constant time.
func (e *Endpoint) ProfileOf(tok string) (string, bool) {
	if e == nil || !IsLocalToken(tok) {
		return "", false
	}
	h := TokenHash(tok)
	found := ""
	for p, t := range e.Tokens {
		if subtle.ConstantTimeCompare([]byte(t.SHA256), []byte(h)) == 1 {
			found = p
		}
	}
	return found, found != ""
}

// IsLocalToken reports whether s has a local token's shape.
func IsLocalToken(s string) bool {
	rest, ok := strings.CutPrefix(s, LocalTokenPrefix)
	if !ok || len(rest) != localTokenChars {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// TokenHint shows a local token as people see it: tcl_... and its last 5.
func TokenHint(tok string) string {
	if len(tok) < 9 {
		return LocalTokenPrefix + "..."
	}
	return LocalTokenPrefix + "..." + tok[len(tok)-5:]
}

func newLocalToken() (string, error) { return NewToken(LocalTokenPrefix, localTokenChars*3/4) }

// NewToken is prefix and n random bytes in URL-safe base64: the local
// endpoint's tokens, and remote sessions' ids and tokens.
func NewToken(prefix string, n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making a token: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// TokenHash is all that is kept of a token: its SHA-256, in hex.
func TokenHash(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// tokenStore is where local tokens are kept: Tokens, else the keychain.
func (s *Store) tokenStore() Source {
	if s.Tokens != nil {
		return s.Tokens
	}
	return s.Keychain
}

// State is state.json as this Store sees it (the daemon's: in memory).
func (s *Store) State() (*State, error) { return s.files().State() }

// EndpointState is state.json's endpoint part (zero when it has none).
func (s *Store) EndpointState() (Endpoint, error) {
	st, err := s.files().State()
	if err != nil {
		return Endpoint{}, err
	}
	if st.Endpoint == nil {
		return Endpoint{}, nil
	}
	return *st.Endpoint, nil
}

// SetEndpoint records the endpoint's port (0 keeps the one recorded) and
// whether it is off.
func (s *Store) SetEndpoint(port int, off bool) error {
	return s.UpdateState(func(st *State) error {
		if st.Endpoint == nil {
			st.Endpoint = &Endpoint{}
		}
		if port > 0 && port != st.Endpoint.Port {
			if old := st.Endpoint.Port; old > 0 {
				st.Endpoint.FormerPorts = slices.DeleteFunc(append(st.Endpoint.FormerPorts, old), func(p int) bool { return p == port })
				if n := len(st.Endpoint.FormerPorts); n > maxFormerPorts {
					st.Endpoint.FormerPorts = st.Endpoint.FormerPorts[n-maxFormerPorts:]
				}
			}
			st.Endpoint.Port = port
		}
		st.Endpoint.Off = off
		return nil
	})
}

// LocalToken is profile's current local token, issued now when it has
// none, or when the keychain's copy is not the one state.json names.
// Errors are the keychain's (storeerr.ErrKeychain) or state.json's.
func (s *Store) LocalToken(ctx context.Context, profile string) (string, error) {
	if err := CheckProfile(profile); err != nil {
		return "", err
	}
	tok, err := s.tokenStore().Get(ctx, tokenAccountPrefix+profile)
	switch {
	case err == nil && IsLocalToken(tok):
		if ep, serr := s.EndpointState(); serr == nil {
			if p, ok := ep.ProfileOf(tok); ok && p == profile {
				return tok, nil
			}
		}
	case err != nil && !errors.Is(err, storeerr.ErrNotFound):
		return "", err
	}
	return s.issueToken(ctx, profile)
}

// issueToken makes, keeps and records a new local token for profile: the
// keychain holds it before state.json names it, so a token state.json
// accepts can always be written again.
func (s *Store) issueToken(ctx context.Context, profile string) (string, error) {
	tok, err := newLocalToken()
	if err != nil {
		return "", err
	}
	if err := s.tokenStore().Set(ctx, tokenAccountPrefix+profile, tok); err != nil {
		return "", fmt.Errorf("keeping the local token in the keychain: %w", err)
	}
	err = s.UpdateState(func(st *State) error {
		if st.Endpoint == nil {
			st.Endpoint = &Endpoint{}
		}
		if st.Endpoint.Tokens == nil {
			st.Endpoint.Tokens = map[string]LocalToken{}
		}
		st.Endpoint.Tokens[profile] = LocalToken{SHA256: TokenHash(tok), Hint: TokenHint(tok), IssuedAt: s.now()}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("recording the local token: %w", err)
	}
	return tok, nil
}

// ReissueLocalToken replaces profile's local token: the old one stops
// working at once. When config.json (of profile) holds a local token, it
// gets the new one (every other byte kept). It returns the new token's
// hint and whether config.json was rewritten.
func (s *Store) ReissueLocalToken(ctx context.Context, profile string) (hint string, rewrote bool, err error) {
	tok, err := s.issueToken(ctx, profile)
	if err != nil {
		return "", false, err
	}
	hint = TokenHint(tok)
	if s.ConfigPath == "" || s.ConfigOwner() != profile {
		return hint, false, nil
	}
	rewrote, err = s.rewriteConfigToken(tok)
	return hint, rewrote, err
}

// throughEndpoint is config.json as every door other than the endpoint
// reads it: a local token is no key, and the endpoint's URL stands for the
// URL config.json named before (none: the tiers below it).
func (st *State) throughEndpoint(c toraleconfig.Config) toraleconfig.Config {
	if IsLocalToken(c.APIKey) {
		c.APIKey = ""
	}
	if st.Endpoint.Names(c.APIURL) || st.Endpoint.NamesFormer(c.APIURL) {
		c.APIURL = st.Endpoint.ConfigAPIURL
	}
	return c
}
