package credstore

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/internal/testkeyring"
)

func TestStorePutKeepsOldHintAndResetsClock(t *testing.T) {
	b := &testkeyring.Memory{}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := &Store{Keychain: keychain.New(keychain.WithKeyring(b)), StateFile: StateFile{Dir: t.TempDir()}, Now: func() time.Time { return now }}
	ctx := context.Background()
	k1, k2 := "sk_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa11111", "sk_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb22222"
	if _, err := s.Put(ctx, "default", k1, PutOptions{Source: SourceLogin}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(48 * time.Hour)
	if _, err := s.Put(ctx, "default", k1, PutOptions{Source: SourceConfig}); err != nil {
		t.Fatal(err)
	}
	st, _ := s.StateFile.Load()
	if p := st.Profiles["default"]; !p.StoredAt.Equal(now.Add(-48*time.Hour)) || p.Source != SourceLogin {
		t.Fatalf("the same key again must not restart the clock: %+v", p)
	}
	if _, err := s.Put(ctx, "default", k2, PutOptions{Source: SourceConfig}); err != nil {
		t.Fatal(err)
	}
	st, _ = s.StateFile.Load()
	p := st.Profiles["default"]
	if !p.StoredAt.Equal(now) || p.Source != SourceConfig || p.KeyHint != "sk_...22222" || p.PreviousKeyHint != "sk_...11111" {
		t.Fatalf("metadata after a new key: %+v", p)
	}
	b2, _ := os.ReadFile(s.StateFile.Path())
	if strings.Contains(string(b2), k1) || strings.Contains(string(b2), k2) {
		t.Fatal("state.json holds a key")
	}
	if _, err := s.Put(ctx, "default", "sk_short", PutOptions{}); !errors.Is(err, apikey.ErrBadKey) {
		t.Fatalf("bad key: %v", err)
	}
	if err := s.Delete(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "default"); !errors.Is(err, storeerr.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

// Against the real Secret Service that `make test` starts.
func TestRealKeychainRoundTripOneItem(t *testing.T) {
	testkeyring.Require(t)
	service := testkeyring.Service()
	s := &Store{Keychain: keychain.New(keychain.WithService(service)), StateFile: StateFile{Dir: t.TempDir()}}
	ctx := context.Background()
	if _, err := s.Keychain.Get(ctx, "default"); !errors.Is(err, storeerr.ErrNotFound) || errors.Is(err, storeerr.ErrKeychain) {
		t.Fatalf("empty keychain: %v", err)
	}
	k1, k2 := "sk_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa11111", "sk_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb22222"
	for _, k := range []string{k1, k2} {
		if _, err := s.Put(ctx, "default", k, PutOptions{Source: SourceLogin}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Keychain.Get(ctx, "default")
	if err != nil || got != k2 {
		t.Fatalf("Get = %q, %v", apikey.Hint(got), err)
	}
	// One item per profile, never a second copy.
	out, err := exec.Command("secret-tool", "search", "--all", "service", service, "username", "default").CombinedOutput()
	if err != nil {
		t.Fatalf("secret-tool: %v %s", err, out)
	}
	if n := strings.Count(string(out), "[/"); n != 1 {
		t.Fatalf("%d keychain items for one profile:\n%s", n, out)
	}
	if err := s.Delete(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Keychain.Get(ctx, "default"); !errors.Is(err, storeerr.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}
