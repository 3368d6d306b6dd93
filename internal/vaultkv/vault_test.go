package vaultkv_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"

	"github.com/torale-ai/torale-cred/internal/vaultkv"
	"github.com/torale-ai/torale-cred/internal/vaulttest"
)

// These tests run against a real Vault dev server (vaulttest): they skip
// without TORALE_CRED_VAULT_BIN and fail in CI without it.

const readOnly = `
path "secret/data/torale/*" { capabilities = ["read"] }
path "secret/metadata/torale/*" { capabilities = ["read"] }
`

// dataOnly reads the data but not the metadata: versions are followed by
// reading the data.
const dataOnly = `path "secret/data/torale/*" { capabilities = ["read"] }`

const writer = `path "secret/data/torale/*" { capabilities = ["create", "update", "read"] }`

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func client(t *testing.T, v *vaulttest.Server, cfg vaultkv.Config) *vaultkv.Client {
	t.Helper()
	cfg.Addr = v.Addr
	if cfg.Mount == "" {
		cfg.Mount = "secret"
	}
	c, err := vaultkv.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPutGetAndReadOnlyToken(t *testing.T) {
	v := vaulttest.Start(t)
	v.Policy(t, "torale-read", readOnly)
	want := v.Put(t, "secret", "torale/p", map[string]any{"api_key": vaulttest.Key(1), "note": "kept"})
	tok := v.Token(t, &vault.TokenCreateRequest{Policies: []string{"torale-read"}})

	c := client(t, v, vaultkv.Config{Path: "torale/p", Token: tok})
	s, err := c.Read(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if s.Key != vaulttest.Key(1) || s.Version != want {
		t.Fatalf("read version %d, want %s... version %d", s.Version, vaulttest.Key(1)[:7], want)
	}
	ver, _, err := c.CurrentVersion(ctx(t))
	if err != nil || ver != want {
		t.Fatalf("CurrentVersion = %d, %v; want %d", ver, err, want)
	}

	// The read-only token may not write: one sentence that says so.
	_, err = c.Write(ctx(t), vaulttest.Key(2))
	if !errors.Is(err, vaultkv.ErrDenied) {
		t.Fatalf("write with a read-only token: %v, want ErrDenied", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "denied writing secret/data/torale/p") || strings.Contains(msg, vaulttest.Key(2)) {
		t.Fatalf("denied write says %q", msg)
	}

	// A writer's write is a new version that keeps the other fields.
	v.Policy(t, "torale-write", writer)
	w := client(t, v, vaultkv.Config{Path: "torale/p", Token: v.Token(t, &vault.TokenCreateRequest{Policies: []string{"torale-write"}})})
	got, err := w.Write(ctx(t), vaulttest.Key(2))
	if err != nil || got != want+1 {
		t.Fatalf("Write = %d, %v; want version %d", got, err, want+1)
	}
	sec, err := v.Root.KVv2("secret").Get(ctx(t), "torale/p")
	if err != nil || sec.Data["note"] != "kept" || sec.Data["api_key"] != vaulttest.Key(2) {
		t.Fatalf("after Write the secret holds %v fields (%v); the other field must stay", len(sec.Data), err)
	}
}

func TestWrongAndDeniedPath(t *testing.T) {
	v := vaulttest.Start(t)
	v.Policy(t, "torale-read", readOnly)
	v.Put(t, "secret", "other/p", map[string]any{"api_key": vaulttest.Key(1)})
	tok := v.Token(t, &vault.TokenCreateRequest{Policies: []string{"torale-read"}})

	_, err := client(t, v, vaultkv.Config{Path: "torale/missing", Token: tok}).Read(ctx(t))
	if !errors.Is(err, vaultkv.ErrNotFound) || !strings.Contains(err.Error(), "no secret at secret/torale/missing") || !strings.Contains(err.Error(), "--path") {
		t.Fatalf("wrong path: %v", err)
	}
	_, err = client(t, v, vaultkv.Config{Path: "other/p", Token: tok}).Read(ctx(t))
	if !errors.Is(err, vaultkv.ErrDenied) || !strings.Contains(err.Error(), "denied reading secret/data/other/p") {
		t.Fatalf("denied path: %v", err)
	}
	_, err = client(t, v, vaultkv.Config{Mount: "nosuchmount", Path: "torale/p", Token: RootTokenFor(v)}).Read(ctx(t))
	if err == nil || !strings.Contains(err.Error(), "--mount") {
		t.Fatalf("wrong mount: %v", err)
	}
	_, err = client(t, v, vaultkv.Config{Path: "torale/p", Token: "not-a-token"}).Read(ctx(t))
	if err == nil || !strings.Contains(err.Error(), "lookup-self") {
		t.Fatalf("bad token: %v", err)
	}
}

// RootTokenFor is the dev server's root token.
func RootTokenFor(*vaulttest.Server) string { return vaulttest.RootToken }

func follower(c *vaultkv.Client) *vaultkv.Follower {
	return &vaultkv.Follower{C: c, Interval: 200 * time.Millisecond, MaxBackoff: 500 * time.Millisecond}
}

func run(t *testing.T, f *vaultkv.Follower) {
	c, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = f.Run(c); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// serves waits (at most limit) for f to serve key.
func serves(t *testing.T, f *vaultkv.Follower, key string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if s, err := f.Current(); err == nil && s.Key == key {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			s, err := f.Current()
			t.Fatalf("not serving the expected key within %s: version %d (%v), state %+v", limit, s.Version, err, f.State())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFollowerNewVersionAndOutage(t *testing.T) {
	for _, pol := range []struct{ name, hcl string }{{"metadata", readOnly}, {"data-only", dataOnly}} {
		t.Run(pol.name, func(t *testing.T) {
			v := vaulttest.Start(t)
			v.Policy(t, "p", pol.hcl)
			v.Put(t, "secret", "torale/p", map[string]any{"api_key": vaulttest.Key(1)})
			// A token file, as Vault Agent's sink writes it: read afresh
			// at each login.
			tokFile := filepath.Join(t.TempDir(), "token")
			writeToken(t, tokFile, v.Token(t, &vault.TokenCreateRequest{Policies: []string{"p"}}))
			f := follower(client(t, v, vaultkv.Config{Path: "torale/p", TokenFile: tokFile, Timeout: time.Second}))
			run(t, f)
			serves(t, f, vaulttest.Key(1), 5*time.Second)

			v.Put(t, "secret", "torale/p", map[string]any{"api_key": vaulttest.Key(2)})
			took := serves(t, f, vaulttest.Key(2), 5*time.Second)
			t.Logf("new version served %s after the put", took.Round(time.Millisecond))

			// Vault stops: the last key is still served, the state says why.
			v.Stop()
			deadline := time.Now().Add(10 * time.Second)
			for f.State().Err == nil {
				if time.Now().After(deadline) {
					t.Fatal("Vault stopped and the follower still says ok")
				}
				time.Sleep(20 * time.Millisecond)
			}
			if s, err := f.Current(); err != nil || s.Key != vaulttest.Key(2) {
				t.Fatalf("while Vault is down: %v, version %d; want the last key kept", err, s.Version)
			}
			if st := f.State(); !errors.Is(st.Err, vaultkv.ErrUnavailable) || !strings.Contains(st.Err.Error(), "cannot be reached") {
				t.Fatalf("state while down: %v", st.Err)
			}

			// It comes back (a dev server restarts empty, its tokens gone):
			// the agent writes a new token, and the follower logs in again.
			v.Start()
			v.Policy(t, "p", pol.hcl)
			writeToken(t, tokFile, v.Token(t, &vault.TokenCreateRequest{Policies: []string{"p"}}))
			v.Put(t, "secret", "torale/p", map[string]any{"api_key": vaulttest.Key(3)})
			serves(t, f, vaulttest.Key(3), 10*time.Second)
			if st := f.State(); st.Err != nil {
				t.Fatalf("after Vault came back: %v", st.Err)
			}
		})
	}
}

func writeToken(t *testing.T, path, tok string) {
	t.Helper()
	if err := os.WriteFile(path+".tmp", []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

// A renewable token with a short TTL is renewed; one that cannot be
// renewed past its max TTL is replaced by logging in again (AppRole).
func TestTokenRenewalAndAppRole(t *testing.T) {
	v := vaulttest.Start(t)
	v.Policy(t, "p", readOnly)
	v.Put(t, "secret", "torale/p", map[string]any{"api_key": vaulttest.Key(1)})

	t.Run("renewed", func(t *testing.T) {
		tok := v.Token(t, &vault.TokenCreateRequest{Policies: []string{"p"}, TTL: "3s", ExplicitMaxTTL: "1h"})
		f := follower(client(t, v, vaultkv.Config{Path: "torale/p", Token: tok, Timeout: time.Second}))
		run(t, f)
		serves(t, f, vaulttest.Key(1), 5*time.Second)
		time.Sleep(5 * time.Second) // past the token's first TTL
		v.Put(t, "secret", "torale/p", map[string]any{"api_key": vaulttest.Key(2)})
		serves(t, f, vaulttest.Key(2), 5*time.Second)
		if st := f.State(); st.Err != nil {
			t.Fatalf("the token was not kept alive: %v", st.Err)
		}
	})

	t.Run("approle", func(t *testing.T) {
		v.Write(t, "sys/auth/approle", map[string]any{"type": "approle"})
		v.Write(t, "auth/approle/role/torale", map[string]any{"token_policies": "p", "token_ttl": "2s", "token_max_ttl": "3s"})
		roleID, err := v.Root.Logical().Read("auth/approle/role/torale/role-id")
		if err != nil {
			t.Fatal(err)
		}
		secretID := v.Write(t, "auth/approle/role/torale/secret-id", nil)
		dir := t.TempDir()
		roleFile, secretFile := filepath.Join(dir, "role-id"), filepath.Join(dir, "secret-id")
		writeToken(t, roleFile, roleID.Data["role_id"].(string))
		writeToken(t, secretFile, secretID.Data["secret_id"].(string))

		f := follower(client(t, v, vaultkv.Config{Path: "torale/p", RoleIDFile: roleFile, SecretIDFile: secretFile, Timeout: time.Second}))
		run(t, f)
		serves(t, f, vaulttest.Key(2), 5*time.Second)
		time.Sleep(5 * time.Second) // past the tokens' max TTL: renewal alone cannot keep it
		v.Put(t, "secret", "torale/p", map[string]any{"api_key": vaulttest.Key(3)})
		serves(t, f, vaulttest.Key(3), 5*time.Second)

		// A wrong secret-id: a sentence about the login, not a key.
		writeToken(t, secretFile, "00000000-0000-0000-0000-000000000000")
		_, err = client(t, v, vaultkv.Config{Path: "torale/p", RoleIDFile: roleFile, SecretIDFile: secretFile}).Read(ctx(t))
		if err == nil || !strings.Contains(err.Error(), "AppRole") {
			t.Fatalf("wrong secret-id: %v", err)
		}
	})
}

// A sealed Vault: the last key is kept, the state says sealed, and once
// unsealed the follower takes the next version.
func TestFollowerSealed(t *testing.T) {
	v := vaulttest.Start(t)
	if v.UnsealKey == "" {
		t.Skip("the dev server printed no unseal key")
	}
	v.Policy(t, "p", readOnly)
	v.Put(t, "secret", "torale/p", map[string]any{"api_key": vaulttest.Key(1)})
	tok := v.Token(t, &vault.TokenCreateRequest{Policies: []string{"p"}})
	f := follower(client(t, v, vaultkv.Config{Path: "torale/p", Token: tok, Timeout: time.Second}))
	run(t, f)
	serves(t, f, vaulttest.Key(1), 5*time.Second)
	if err := v.Root.Sys().Seal(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := f.State()
		if st.Err != nil && strings.Contains(st.Err.Error(), "sealed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sealed Vault, follower state: %v", st.Err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s, err := f.Current(); err != nil || s.Key != vaulttest.Key(1) {
		t.Fatalf("while sealed: %v", err)
	}
	if _, err := v.Root.Sys().Unseal(v.UnsealKey); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		if h, err := v.Root.Sys().Health(); err == nil && !h.Sealed && !h.Standby {
			if _, err := v.Root.KVv2("secret").GetMetadata(context.Background(), "torale/p"); err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("Vault did not come back after unseal")
		}
		time.Sleep(50 * time.Millisecond)
	}
	v.Put(t, "secret", "torale/p", map[string]any{"api_key": vaulttest.Key(2)})
	serves(t, f, vaulttest.Key(2), 10*time.Second)
}
