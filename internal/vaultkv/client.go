// Package vaultkv reads and writes one secret in a HashiCorp Vault or
// OpenBao KV version 2 engine, logs in the ways Vault's own tools do (a
// token, a token file, AppRole), keeps its token alive, and follows the
// secret's versions (Follower). It holds a key in memory only: it never
// writes one to disk, a log or an error.
package vaultkv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// DefaultField is the secret's field that holds the key.
const DefaultField = "api_key"

// DefaultTimeout bounds one request to Vault.
const DefaultTimeout = 5 * time.Second

// Config is where the secret is and how to log in. Login is tried in this
// order: AppRole (both files named), TokenFile (read afresh at each login,
// so Vault Agent's sink or a rotated file is followed), Token.
type Config struct {
	// Addr is Vault's address (https://vault.example:8200).
	Addr string
	// CACert is a PEM file of the CA that signed Vault's certificate.
	CACert string
	// Mount is the KV v2 engine's mount ("secret"); Path the secret in it.
	Mount, Path string
	// Field is the secret's field holding the key (DefaultField when "").
	Field string
	// Token is a token given directly (VAULT_TOKEN); never persisted.
	Token string
	// TokenFile holds a token (a Vault Agent sink, ~/.vault-token).
	TokenFile string
	// RoleIDFile and SecretIDFile log in with AppRole at AppRoleMount
	// ("approle" when "").
	RoleIDFile, SecretIDFile, AppRoleMount string
	// Timeout bounds each request (DefaultTimeout when 0).
	Timeout time.Duration
}

func (c Config) field() string {
	if c.Field == "" {
		return DefaultField
	}
	return c.Field
}

// DataPath is the API path of the secret's data ("secret/data/torale/p"),
// as a policy names it.
func (c Config) DataPath() string { return c.Mount + "/data/" + c.Path }

// MetadataPath is the API path of the secret's metadata.
func (c Config) MetadataPath() string { return c.Mount + "/metadata/" + c.Path }

// Where names the secret for a sentence: "secret/torale/p at https://…".
func (c Config) Where() string { return c.Mount + "/" + c.Path + " at " + c.Addr }

// Login is how the client logs in, for status lines.
func (c Config) Login() string {
	switch {
	case c.RoleIDFile != "" && c.SecretIDFile != "":
		return "approle"
	case c.TokenFile != "":
		return "token file " + c.TokenFile
	case c.Token != "":
		return "VAULT_TOKEN"
	}
	return "none"
}

// Secret is one version of the secret's key.
type Secret struct {
	Key     string
	Version int
}

// Client talks to one secret. Its methods are safe for concurrent use; a
// Follower serialises its own polls.
type Client struct {
	cfg Config
	api *httpAPI

	mu        sync.Mutex
	loggedIn  bool
	renewable bool
	ttl       time.Duration // the token's full TTL (0: never expires)
	expires   time.Time
	// metaDenied: the policy reads the data but not the metadata, so
	// versions are followed by reading the data.
	metaDenied bool
	now        func() time.Time
}

// New prepares a client; nothing is sent until the first call.
func New(cfg Config) (*Client, error) {
	if cfg.Addr == "" {
		return nil, errors.New("no Vault address: set --addr or VAULT_ADDR")
	}
	if cfg.Mount == "" || cfg.Path == "" {
		return nil, errors.New("no KV v2 mount and path for the secret: set --mount and --path")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	api, err := newHTTPAPI(cfg)
	if err != nil {
		return nil, fmt.Errorf("preparing the Vault client: %w", err)
	}
	return &Client{cfg: cfg, api: api, now: time.Now}, nil
}

// Config is the client's configuration.
func (c *Client) Config() Config { return c.cfg }

// login obtains a token; c.mu is held.
func (c *Client) loginLocked(ctx context.Context) error {
	c.loggedIn = false
	switch {
	case c.cfg.RoleIDFile != "" && c.cfg.SecretIDFile != "":
		roleID, err := readSecretFile(c.cfg.RoleIDFile, "AppRole role-id")
		if err != nil {
			return err
		}
		secretID, err := readSecretFile(c.cfg.SecretIDFile, "AppRole secret-id")
		if err != nil {
			return err
		}
		mount := c.cfg.AppRoleMount
		if mount == "" {
			mount = "approle"
		}
		c.api.setToken("")
		var s authAnswer
		if err := c.api.call(ctx, http.MethodPost, "auth/"+mount+"/login", map[string]any{"role_id": roleID, "secret_id": secretID}, &s); err != nil {
			return c.classify(err, "logging in with AppRole (auth/"+mount+"/login)")
		}
		if s.Auth == nil || s.Auth.ClientToken == "" {
			return &Error{Kind: KindLogin, Addr: c.cfg.Addr, Doing: "logging in with AppRole", Err: errors.New("no token in the answer")}
		}
		c.api.setToken(s.Auth.ClientToken)
		c.noteTTL(time.Duration(s.Auth.LeaseDuration)*time.Second, s.Auth.Renewable)
		c.loggedIn = true
		return nil
	case c.cfg.TokenFile != "":
		tok, err := readSecretFile(c.cfg.TokenFile, "Vault token")
		if err != nil {
			return err
		}
		c.api.setToken(tok)
	case c.cfg.Token != "":
		c.api.setToken(c.cfg.Token)
	default:
		return &Error{Kind: KindLogin, Addr: c.cfg.Addr, Doing: "logging in",
			Err: errors.New("no way to log in is configured: set VAULT_TOKEN, --token-file, or --approle-role-id-file and --approle-secret-id-file")}
	}
	// Learn the token's lifetime, so it is renewed before it expires.
	ttl, renewable, err := c.api.lookupSelf(ctx)
	if err != nil {
		return c.classify(err, "checking the Vault token (auth/token/lookup-self)")
	}
	c.noteTTL(time.Duration(ttl)*time.Second, renewable)
	c.loggedIn = true
	return nil
}

func (c *Client) noteTTL(ttl time.Duration, renewable bool) {
	c.ttl, c.renewable = ttl, renewable
	c.expires = time.Time{}
	if ttl > 0 {
		c.expires = c.now().Add(ttl)
	}
}

// ensureToken logs in when needed and renews a token past half its life;
// a renewal that fails logs in again (AppRole, or a token file Vault Agent
// has rewritten).
func (c *Client) ensureToken(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loggedIn {
		return c.loginLocked(ctx)
	}
	if c.ttl <= 0 || c.now().Before(c.expires.Add(-c.ttl/2)) {
		return nil
	}
	if c.renewable {
		var s authAnswer
		err := c.api.call(ctx, http.MethodPost, "auth/token/renew-self", map[string]any{}, &s)
		if err == nil && s.Auth != nil {
			c.noteTTL(time.Duration(s.Auth.LeaseDuration)*time.Second, s.Auth.Renewable)
			return nil
		}
	}
	return c.loginLocked(ctx)
}

// relogin forgets the token after Vault refused it.
func (c *Client) relogin(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loginLocked(ctx)
}

// do runs op with a live token; when Vault answers 403, it tells an expired
// or revoked token (logged in again, op retried once) from a policy that
// does not allow op.
func (c *Client) do(ctx context.Context, doing string, op func(context.Context) error) error {
	if err := c.ensureToken(ctx); err != nil {
		return err
	}
	err := op(ctx)
	if !isForbidden(err) {
		return c.classify(err, doing)
	}
	if _, _, lerr := c.api.lookupSelf(ctx); !isForbidden(lerr) {
		return c.classify(err, doing) // the token is fine: the policy says no
	}
	if lerr := c.relogin(ctx); lerr != nil {
		return lerr
	}
	return c.classify(op(ctx), doing)
}

// Read is the secret's current version.
func (c *Client) Read(ctx context.Context) (Secret, error) {
	var s *kvSecret
	err := c.do(ctx, "reading "+c.cfg.DataPath(), func(ctx context.Context) error {
		var err error
		s, err = c.api.kvGet(ctx, c.cfg.Mount, c.cfg.Path)
		return err
	})
	if err != nil {
		return Secret{}, err
	}
	return c.secret(s)
}

func (c *Client) secret(s *kvSecret) (Secret, error) {
	v := s.Version
	if s.Data == nil {
		return Secret{Version: v}, &Error{Kind: KindNotFound, Addr: c.cfg.Addr, Doing: "reading " + c.cfg.DataPath(),
			Err: fmt.Errorf("version %d of %s/%s was deleted", v, c.cfg.Mount, c.cfg.Path)}
	}
	raw, ok := s.Data[c.cfg.field()]
	if !ok {
		return Secret{Version: v}, &Error{Kind: KindNotFound, Addr: c.cfg.Addr, Doing: "reading " + c.cfg.DataPath(),
			Err: fmt.Errorf("version %d of %s/%s has no field %q", v, c.cfg.Mount, c.cfg.Path, c.cfg.field())}
	}
	key, ok := raw.(string)
	if !ok {
		return Secret{Version: v}, &Error{Kind: KindNotFound, Addr: c.cfg.Addr, Doing: "reading " + c.cfg.DataPath(),
			Err: fmt.Errorf("field %q of version %d of %s/%s is not a string", c.cfg.field(), v, c.cfg.Mount, c.cfg.Path)}
	}
	return Secret{Key: key, Version: v}, nil
}

// CurrentVersion is the secret's current version number, from its
// metadata (no key sent) when the policy allows, else from its data (then
// the secret read comes back too, so it need not be read again).
func (c *Client) CurrentVersion(ctx context.Context) (int, *Secret, error) {
	c.mu.Lock()
	metaDenied := c.metaDenied
	c.mu.Unlock()
	if !metaDenied {
		var current int
		err := c.do(ctx, "reading "+c.cfg.MetadataPath(), func(ctx context.Context) error {
			var err error
			current, err = c.api.kvCurrentVersion(ctx, c.cfg.Mount, c.cfg.Path)
			return err
		})
		if err == nil {
			return current, nil, nil
		}
		if !errors.Is(err, ErrDenied) {
			return 0, nil, err
		}
		c.mu.Lock()
		c.metaDenied = true
		c.mu.Unlock()
	}
	s, err := c.Read(ctx)
	if err != nil {
		return 0, nil, err
	}
	return s.Version, &s, nil
}

// Write stores key as a new version, keeping the secret's other fields,
// and returns the version written. It needs create/update on the data path.
func (c *Client) Write(ctx context.Context, key string) (int, error) {
	var version int
	err := c.do(ctx, "writing "+c.cfg.DataPath(), func(ctx context.Context) error {
		data := map[string]any{}
		cas := -1
		old, err := c.api.kvGet(ctx, c.cfg.Mount, c.cfg.Path)
		switch {
		case err == nil:
			for k, v := range old.Data {
				data[k] = v
			}
			cas = old.Version
		case errors.Is(err, errSecretNotFound):
			cas = 0
		case isForbidden(err):
			// A write-only policy: write the field alone.
		default:
			return err
		}
		data[c.cfg.field()] = key
		version, err = c.api.kvPut(ctx, c.cfg.Mount, c.cfg.Path, data, cas)
		return err
	})
	return version, err
}

// Ping is nil when Vault answers as unsealed and active.
func (c *Client) Ping(ctx context.Context) error {
	sealed, err := c.api.sealed(ctx)
	if err != nil {
		return c.classify(err, "checking Vault's health")
	}
	if sealed {
		return &Error{Kind: KindSealed, Addr: c.cfg.Addr, Doing: "checking Vault's health", Err: errors.New("sealed")}
	}
	return nil
}

func readSecretFile(path, what string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", &Error{Kind: KindLogin, Doing: "reading the " + what + " file", Err: err}
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", &Error{Kind: KindLogin, Doing: "reading the " + what + " file", Err: fmt.Errorf("%s is empty", path)}
	}
	return s, nil
}

func isForbidden(err error) bool {
	var re *apiError
	return errors.As(err, &re) && re.StatusCode == http.StatusForbidden
}

// CanWrite reports whether this login may write a new version of the
// secret (create and update on the data path, from sys/capabilities-self).
func (c *Client) CanWrite(ctx context.Context) (bool, error) {
	var caps []string
	err := c.do(ctx, "asking this login's capabilities on "+c.cfg.DataPath(), func(ctx context.Context) error {
		var err error
		caps, err = c.api.capabilitiesSelf(ctx, c.cfg.DataPath())
		return err
	})
	if err != nil {
		return false, err
	}
	has := map[string]bool{}
	for _, cp := range caps {
		has[cp] = true
	}
	return has["root"] || (has["create"] && has["update"]), nil
}
