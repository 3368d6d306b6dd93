package credstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/credstore/vault"
	"github.com/torale-ai/torale-cred/internal/audit"
	"github.com/torale-ai/torale-cred/internal/testkeyring"
	"github.com/torale-ai/torale-cred/internal/vaulttest"
)

// A command answering itself (no daemon) over a Vault profile: one read
// per look-up, the version in the trail, a write (rotate, login) as a new
// version with a writer's token, refused with a sentence for a reader's,
// and no key in the keychain or on disk.
func TestVaultStoreAnsweringItself(t *testing.T) {
	v := vaulttest.Start(t)
	v.Policy(t, "read", `path "secret/data/torale/*" { capabilities = ["read"] }`)
	v.Policy(t, "write", `path "secret/data/torale/*" { capabilities = ["read", "create", "update"] }`)
	v.Put(t, "secret", "torale/p", map[string]any{"api_key": vaulttest.Key(1)})
	home := t.TempDir()
	mem := &testkeyring.Memory{}
	kc := keychain.New(keychain.WithKeyring(mem))
	store := func(tok string) *Store {
		s := &Store{Keychain: kc, StateFile: StateFile{Dir: filepath.Join(home, "state")},
			Remote: func(_ string, spec StoreSpec) (Source, error) {
				return OpenStore(spec, func(k string) string {
					if k == "VAULT_TOKEN" {
						return tok
					}
					return ""
				})
			}}
		return s
	}
	ctx := context.Background()
	reader := store(v.Token(t, &vaultapi.TokenCreateRequest{Policies: []string{"read"}}))
	var trail []audit.Event
	reader.Audit = func(e audit.Event) { trail = append(trail, e) }
	spec := StoreSpec{Kind: StoreVault, Vault: &vault.Spec{Addr: v.Addr, Mount: "secret", Path: "torale/p"}}
	if _, err := reader.SetStore(ctx, "p", spec, false, nil); err != nil {
		t.Fatal(err)
	}

	r, err := reader.Resolve(WithDoor(ctx, DoorToken), Request{Profile: "p"})
	if err != nil || r.Key != vaulttest.Key(1) {
		t.Fatalf("Resolve = %s, %v", apikey.Hint(r.Key), err)
	}
	if len(trail) != 1 || trail[0].Version != 1 {
		t.Fatalf("trail: %+v", trail)
	}

	_, err = reader.Put(ctx, "p", vaulttest.Key(2), PutOptions{Source: SourceRotate})
	if !errors.Is(err, storeerr.ErrKeychain) || !strings.Contains(err.Error(), "may only read") || strings.Contains(err.Error(), vaulttest.Key(2)) {
		t.Fatalf("a reader's write: %v", err)
	}

	// rotate asks first, so no key is created that cannot be stored.
	readTok := v.Token(t, &vaultapi.TokenCreateRequest{Policies: []string{"read"}})
	writeTok := v.Token(t, &vaultapi.TokenCreateRequest{Policies: []string{"write"}})
	env := func(tok string) func(string) string {
		return func(k string) string { return map[string]string{"VAULT_TOKEN": tok}[k] }
	}
	if err := reader.CheckWritable(ctx, "p", env(readTok)); !errors.Is(err, storeerr.ErrReadOnly) || !strings.Contains(err.Error(), "may only read") {
		t.Fatalf("CheckWritable with a reader's token: %v", err)
	}
	if err := reader.CheckWritable(ctx, "p", env(writeTok)); err != nil {
		t.Fatalf("CheckWritable with a writer's token: %v", err)
	}

	writer := store(writeTok)
	info, err := writer.Put(ctx, "p", vaulttest.Key(2), PutOptions{Source: SourceRotate})
	if err != nil || info.KeyHint != apikey.Hint(vaulttest.Key(2)) {
		t.Fatalf("a writer's write: %+v, %v", info, err)
	}
	sec, err := v.Root.KVv2("secret").Get(ctx, "torale/p")
	if err != nil || sec.VersionMetadata.Version != 2 || sec.Data["api_key"] != vaulttest.Key(2) {
		t.Fatalf("Vault after the write: version %v, %v", sec.VersionMetadata, err)
	}
	r, err = reader.Resolve(WithDoor(ctx, DoorToken), Request{Profile: "p"})
	if err != nil || r.Key != vaulttest.Key(2) || trail[len(trail)-1].Version != 2 {
		t.Fatalf("after the write: %s, %v, trail %+v", apikey.Hint(r.Key), err, trail)
	}

	// A wrong path and a denied one, at store set: nothing recorded.
	_, err = reader.SetStore(ctx, "q", StoreSpec{Kind: StoreVault, Vault: &vault.Spec{Addr: v.Addr, Mount: "secret", Path: "torale/nothing"}}, true,
		func(k string) string { return map[string]string{"VAULT_TOKEN": vaulttest.RootToken}[k] })
	if !errors.Is(err, storeerr.ErrNotFound) || !strings.Contains(err.Error(), "--path") {
		t.Fatalf("wrong path: %v", err)
	}
	_, err = reader.SetStore(ctx, "q", StoreSpec{Kind: StoreVault, Vault: &vault.Spec{Addr: v.Addr, Mount: "secret", Path: "elsewhere/q"}}, true,
		func(k string) string {
			return map[string]string{"VAULT_TOKEN": v.Token(t, &vaultapi.TokenCreateRequest{Policies: []string{"read"}})}[k]
		})
	if !errors.Is(err, storeerr.ErrKeychain) || !strings.Contains(err.Error(), "denied reading secret/data/elsewhere/q") {
		t.Fatalf("denied path: %v", err)
	}
	if st, _ := reader.StateFile.Load(); st.Stores["q"].Kind != "" {
		t.Fatalf("a failed store set recorded %+v", st.Stores["q"])
	}

	for user, k := range mem.Entries() {
		if strings.HasPrefix(k, "sk_vaulttest") {
			t.Errorf("the keychain holds a key from Vault under %q", user)
		}
	}
	vaulttest.NoKeyOnDisk(t, []string{vaulttest.Key(1), vaulttest.Key(2)}, home)
	if _, err := os.Stat(filepath.Join(home, "state", "state.json")); err != nil {
		t.Fatal(err)
	}
}
