package credstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/credstore/vault"
	"github.com/torale-ai/torale-cred/internal/audit"
	"github.com/torale-ai/torale-cred/internal/testkeyring"
)

const credKey = "sk_credentialsstore0123456789abcdefABCDEF"

// A profile whose store is a systemd credential: its key comes from
// $CREDENTIALS_DIRECTORY, through the hand-out point (judged, in the
// trail), the keychain is never asked, and writes are refused.
func TestCredentialsStore(t *testing.T) {
	dir := t.TempDir()
	creds := filepath.Join(dir, "creds")
	if err := os.MkdirAll(creds, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(creds, "torale-api-key"), []byte(credKey+"\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	kr := &refusingKeyring{}
	s := &Store{Keychain: keychain.New(keychain.WithKeyring(kr)), StateFile: StateFile{Dir: filepath.Join(dir, "state")},
		Remote: func(_ string, spec StoreSpec) (Source, error) {
			return OpenStore(spec, func(k string) string {
				if k == "CREDENTIALS_DIRECTORY" {
					return creds
				}
				return ""
			})
		}}
	var trail []string
	s.Audit = func(e audit.Event) { trail = append(trail, e.Door+" "+e.KeyHint) }
	ctx := context.Background()
	if _, err := s.SetStore(ctx, "default", StoreSpec{Kind: StoreCredentials}, false, nil); err != nil {
		t.Fatal(err)
	}
	r, err := s.Resolve(WithDoor(ctx, DoorToken), Request{Profile: "default"})
	if err != nil || r.Key != credKey || r.KeySource != FromKeychain {
		t.Fatalf("Resolve = %s from %s, %v", apikey.Hint(r.Key), r.KeySource, err)
	}
	if len(trail) != 1 || trail[0] != DoorToken+" "+apikey.Hint(credKey) {
		t.Fatalf("trail: %q", trail)
	}
	if kr.asked {
		t.Fatal("the keychain was asked for a credentials profile's key")
	}
	if _, err := s.Put(ctx, "default", "sk_"+strings.Repeat("b", 40), PutOptions{}); !errors.Is(err, storeerr.ErrReadOnly) {
		t.Fatalf("Put into a credentials store: %v", err)
	}
	if err := s.Delete(ctx, "default"); !errors.Is(err, storeerr.ErrReadOnly) || !strings.Contains(err.Error(), "store set keychain") {
		t.Fatalf("Delete of a credentials store: %v", err)
	}

	// Not started by systemd: "unavailable" (exit 4), with the fix.
	s2 := &Store{Keychain: keychain.New(keychain.WithKeyring(kr)), StateFile: s.StateFile,
		Remote: func(_ string, spec StoreSpec) (Source, error) {
			return OpenStore(spec, func(string) string { return "" })
		}}
	_, err = s2.Resolve(WithDoor(ctx, DoorToken), Request{Profile: "default"})
	if !errors.Is(err, storeerr.ErrKeychain) || !strings.Contains(err.Error(), "LoadCredential=") {
		t.Fatalf("without $CREDENTIALS_DIRECTORY: %v", err)
	}
}

func TestCheckStoreSpec(t *testing.T) {
	for _, tc := range []struct {
		spec StoreSpec
		ok   bool
	}{
		{StoreSpec{Kind: StoreKeychain}, true},
		{StoreSpec{Kind: StoreCredentials}, true},
		{StoreSpec{Kind: StoreCredentials, Credential: "../x"}, false},
		{StoreSpec{Kind: StoreVault, Vault: &vault.Spec{Addr: "https://v:8200", Mount: "secret", Path: "torale/p"}}, true},
		{StoreSpec{Kind: StoreVault, Vault: &vault.Spec{Addr: "https://v:8200", Mount: "secret"}}, false},
		{StoreSpec{Kind: StoreVault, Vault: &vault.Spec{Mount: "secret", Path: "p"}}, false},
		{StoreSpec{Kind: StoreVault, Vault: &vault.Spec{Addr: "https://v:8200", Mount: "secret", Path: "p", RoleIDFile: "/r"}}, false},
		{StoreSpec{Kind: StoreVault, Vault: &vault.Spec{Addr: "https://v:8200", Mount: "secret", Path: "p", TokenFile: "rel"}}, false},
		{StoreSpec{Kind: "s3"}, false},
	} {
		if err := CheckStoreSpec(tc.spec); (err == nil) != tc.ok {
			t.Errorf("CheckStoreSpec(%+v) = %v", tc.spec, err)
		}
	}
}

type refusingKeyring struct{ asked bool }

func (k *refusingKeyring) Get(string, string) (string, error) {
	k.asked = true
	return "", errors.New("asked")
}
func (k *refusingKeyring) Set(string, string, string) error {
	k.asked = true
	return errors.New("asked")
}
func (k *refusingKeyring) Delete(string, string) error { k.asked = true; return errors.New("asked") }

// Once a profile reads its key from a store beyond this machine, the
// keychain's copy goes: deleted when it is the store's own key, kept as
// the previous key first when it is another, so no key is lost, and left
// (said) when the keychain does not answer.
func TestDropLocalCopy(t *testing.T) {
	storeKey := "sk_" + strings.Repeat("s", 40)
	otherKey := "sk_" + strings.Repeat("o", 40)
	for _, tc := range []struct {
		name  string
		local string // the keychain's copy; "" none
		fail  bool   // the keychain refuses
		want  LocalCopy
	}{
		{"the store's own key", storeKey, false, LocalCopyRemoved},
		{"another key", otherKey, false, LocalCopyShelved},
		{"none", "", false, NoLocalCopy},
		{"a keychain that does not answer", storeKey, true, LocalCopyUnchecked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := &testkeyring.Memory{}
			kc := keychain.New(keychain.WithKeyring(mem))
			s := &Store{Keychain: kc, StateFile: StateFile{Dir: filepath.Join(t.TempDir(), "state")}}
			ctx := context.Background()
			if tc.local != "" {
				if err := kc.Set(ctx, "ci", tc.local); err != nil {
					t.Fatal(err)
				}
			}
			var src Source = kc
			if tc.fail {
				s.Keychain = keychain.New(keychain.WithKeyring(&refusingKeyring{}))
				src = s.Keychain
			}
			s.writeMu.Lock()
			got, hint, err := s.dropLocalCopy(ctx, "ci", storeKey, StoreVault)
			s.writeMu.Unlock()
			if got != tc.want || (got == LocalCopyLeft || got == LocalCopyUnchecked) != (err != nil) {
				t.Fatalf("dropLocalCopy = %v, %s, %v; want %v", got, hint, err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), storeKey) {
				t.Fatal("the error holds the key")
			}
			left, gerr := src.Get(ctx, "ci")
			if tc.fail {
				return
			}
			if !errors.Is(gerr, storeerr.ErrNotFound) {
				t.Fatalf("the keychain still holds %s (%v)", apikey.Hint(left), gerr)
			}
			if tc.want == LocalCopyShelved {
				prev, _, err := s.Previous(ctx, "ci", "")
				if err != nil || prev != otherKey {
					t.Fatalf("the other key was not kept: %s, %v", apikey.Hint(prev), err)
				}
			}
		})
	}
}
