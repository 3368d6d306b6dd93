package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/credstore/vault"
	"github.com/torale-ai/torale-cred/internal/audit"
	"github.com/torale-ai/torale-cred/internal/vaulttest"
	"github.com/torale-ai/torale-cred/ipc"
)

// A profile whose key lives in a real Vault (dev server), through the
// daemon's socket as every door reaches it: served from memory, a new
// version within 5 s, the last key kept while Vault is down, the version in
// the trail, writes refused with a sentence, and no key on local disk.
// Not parallel: it reports how long a new version took against its 5 s
// goal, which other tests' load would blur.
func TestVaultProfileThroughTheDaemon(t *testing.T) {
	v := vaulttest.Start(t)
	v.Policy(t, "torale-read", `
path "secret/data/torale/*" { capabilities = ["read"] }
path "secret/metadata/torale/*" { capabilities = ["read"] }`)
	v.Put(t, "secret", "torale/ci", map[string]any{"api_key": vaulttest.Key(1)})
	tokFile := filepath.Join(t.TempDir(), "vault-token")
	writeToken := func() {
		tok := v.Token(t, &vaultapi.TokenCreateRequest{Policies: []string{"torale-read"}})
		if err := os.WriteFile(tokFile+".tmp", []byte(tok), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tokFile+".tmp", tokFile); err != nil {
			t.Fatal(err)
		}
	}
	writeToken()

	mem := newMemKeyring(map[string]string{})
	p := startInProcess(t, `{}`, func(c *Config) {
		c.Keychain = keychain.New(keychain.WithKeyring(mem))
		c.VaultInterval, c.VaultMaxBackoff = 200*time.Millisecond, 500*time.Millisecond
	})
	home := filepath.Dir(p.state.Dir)
	keys := []string{vaulttest.Key(1), vaulttest.Key(2), vaulttest.Key(3)}
	t.Cleanup(func() {
		vaulttest.NoKeyOnDisk(t, keys, home, tokFile)
		mem.mu.Lock()
		defer mem.mu.Unlock()
		for user, k := range mem.keys {
			for _, vk := range keys {
				if k == vk {
					t.Errorf("the keychain holds a key from Vault under %q", user)
				}
			}
		}
	})

	// store set vault, as the CLI does it: the key is read once to check.
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	cli := &credstore.Store{Keychain: keychain.New(keychain.WithKeyring(mem)), StateFile: p.state}
	spec := credstore.StoreSpec{Kind: credstore.StoreVault, Vault: &vault.Spec{Addr: v.Addr, Mount: "secret", Path: "torale/ci", TokenFile: tokFile}}
	res, err := cli.SetStore(ctx, "ci", spec, true, func(string) string { return "" })
	if err != nil || res.Version != 1 || res.KeyHint != apikey.Hint(vaulttest.Key(1)) {
		t.Fatalf("SetStore = %+v, %v", res, err)
	}
	b, _ := os.ReadFile(p.state.Path())
	if !strings.Contains(string(b), `"stores"`) || strings.Contains(string(b), "hvs.") || strings.Contains(string(b), vaulttest.Key(1)) {
		t.Fatalf("state.json after store set:\n%s", b)
	}

	c := ipc.NewClient(p.sock, 10*time.Second)
	defer c.Close()
	serving := func(want string) func() error {
		return func() error {
			r, err := c.Resolve(credstore.WithDoor(ctx, credstore.DoorToken), credstore.Request{Profile: "ci"})
			if err != nil {
				return err
			}
			if r.Key != want {
				return fmt.Errorf("serving %s, want %s", apikey.Hint(r.Key), apikey.Hint(want))
			}
			return nil
		}
	}
	within(t, "the Vault key served", serving(vaulttest.Key(1)))

	// A new version is served within 5 s of the put.
	v.Put(t, "secret", "torale/ci", map[string]any{"api_key": vaulttest.Key(2)})
	start := time.Now()
	within(t, "version 2 served", serving(vaulttest.Key(2)))
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("version 2 served %s after the put; the goal is 5 s", took)
	} else {
		t.Logf("version 2 served %s after the put", took.Round(time.Millisecond))
	}
	within(t, "the trail records version 2", func() error { return trailHas(p.state.Dir, "ci", 2) })
	within(t, "state.json names the version served (its hint, never the key)", func() error {
		st, err := p.state.Load()
		if err != nil {
			return err
		}
		if pr := st.Profiles["ci"]; pr == nil || pr.KeyHint != apikey.Hint(vaulttest.Key(2)) || pr.Source != credstore.SourceVault {
			return fmt.Errorf("profile ci: %+v", pr)
		}
		return nil
	})
	h, err := c.Info(ctx)
	if err != nil || h.Stores["ci"].State != "ok" || h.Stores["ci"].Version != 2 {
		t.Fatalf("health: %+v, %v", h.Stores, err)
	}

	// Writes: a read-only login may not rotate; logout does not delete.
	_, err = c.Put(ctx, "ci", vaulttest.Key(9), credstore.PutOptions{Source: credstore.SourceRotate})
	if err == nil || !strings.Contains(err.Error(), "may only read") {
		t.Fatalf("a write with a read-only token: %v", err)
	}
	if err := c.Delete(ctx, "ci"); err == nil || !strings.Contains(err.Error(), "store set keychain") {
		t.Fatalf("logout of a Vault profile: %v", err)
	}

	// Vault stops: the last key is still served, health says why.
	v.Stop()
	within(t, "health reports Vault down", func() error {
		h, err := c.Info(ctx)
		if err != nil {
			return err
		}
		if st := h.Stores["ci"].State; !strings.Contains(st, "cannot be reached") || !strings.Contains(st, "still serving version 2") {
			return errors.New(st)
		}
		return nil
	})
	if err := serving(vaulttest.Key(2))(); err != nil {
		t.Fatalf("while Vault is down: %v", err)
	}
	infos, err := c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range infos {
		if in.Name == "ci" && (in.Store == nil || !strings.HasPrefix(in.Store.State, "unavailable")) {
			t.Fatalf("list while Vault is down: %+v", in.Store)
		}
	}

	// It comes back empty (a dev server): a new token, a new secret.
	v.Start()
	v.Policy(t, "torale-read", `path "secret/data/torale/*" { capabilities = ["read"] }
path "secret/metadata/torale/*" { capabilities = ["read"] }`)
	writeToken()
	v.Put(t, "secret", "torale/ci", map[string]any{"api_key": vaulttest.Key(3)})
	within(t, "served again after Vault came back", serving(vaulttest.Key(3)))
	within(t, "health ok again", func() error {
		h, err := c.Info(ctx)
		if err != nil {
			return err
		}
		if h.Stores["ci"].State != "ok" {
			return errors.New(h.Stores["ci"].State)
		}
		return nil
	})

	// Back to the keychain: the follower stops and its key leaves.
	if _, err := cli.SetStore(ctx, "ci", credstore.StoreSpec{Kind: credstore.StoreKeychain}, true, nil); err != nil {
		t.Fatal(err)
	}
	within(t, "the keychain answers again", func() error {
		_, err := c.Resolve(credstore.WithDoor(ctx, credstore.DoorToken), credstore.Request{Profile: "ci"})
		if !errors.Is(err, storeerr.ErrNotFound) {
			return fmt.Errorf("resolve after store set keychain: %v", err)
		}
		return nil
	})
}

// trailHas: the trail holds a hand-out of profile's key at version.
func trailHas(dir, profile string, version int) error {
	b, err := os.ReadFile(filepath.Join(dir, audit.FileName))
	if err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		e, err := audit.ParseLine([]byte(line))
		if err == nil && e.Profile == profile && e.Version == version && e.Result == audit.ResultOK {
			return nil
		}
	}
	return fmt.Errorf("no line for %s at version %d in:\n%s", profile, version, b)
}
