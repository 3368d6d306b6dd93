package credstore

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
)

// failingShelf is a shelf whose writes fail as a locked keychain's do.
type failingShelf struct{ Source }

func (failingShelf) Set(context.Context, string, string) error {
	return &keychain.Error{Fault: keychain.FaultLocked, Reason: "write: locked"}
}

// Issue 25: login NEW, then a stale config.json holding OLD comes back (a
// backup, a dotfile sync). OLD is moved in as before, and NEW, which the
// user really uses, stays in the keychain until they bring it back or
// forget it; nothing advises revoking it.
func TestDisplacedKeyIsKept(t *testing.T) {
	f := newMigrationFixture(t)
	ctx := context.Background()
	shelf := f.store.Keychain.(*keychain.Keychain).Shelf()
	t.Cleanup(func() {
		if st, err := f.store.StateFile.Load(); err == nil {
			for _, d := range st.Displaced[DefaultProfile] {
				_ = shelf.Delete(ctx, d.Account)
			}
		}
	})
	const newKey, oldKey = migKey2, migKey
	created := time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)
	if _, err := f.store.Put(ctx, DefaultProfile, newKey, PutOptions{Source: SourceLogin, CreatedAt: &created}); err != nil {
		t.Fatal(err)
	}

	f.write(`{"api_key": "`+oldKey+`"}`, 0o600)
	res, err := f.store.MigrateConfig(ctx)
	if err != nil || res.Outcome != Migrated || res.PreviousKeyHint != apikey.Hint(newKey) {
		t.Fatalf("stale key: %+v, %v", res, err)
	}
	f.wantStored(oldKey)
	if s := res.String(); !strings.Contains(s, "login --previous --profile default") || strings.Contains(s, "revoke") {
		t.Errorf("the result says %q: want the command that brings %s back, and no advice to revoke it", s, apikey.Hint(newKey))
	}
	key, kept, err := f.store.Previous(ctx, DefaultProfile, "")
	if err != nil || key != newKey {
		t.Fatalf("Previous = %s, %v; want %s", apikey.Hint(key), err, apikey.Hint(newKey))
	}
	if kept.By != apikey.Hint(oldKey) || kept.Via != SourceConfig || kept.Source != SourceLogin || kept.CreatedAt == nil || !kept.CreatedAt.Equal(created) {
		t.Errorf("kept record = %+v", kept)
	}
	infos, err := f.store.List(ctx)
	if err != nil || len(infos) != 1 || len(infos[0].Displaced) != 1 || infos[0].Displaced[0].KeyHint != apikey.Hint(newKey) {
		t.Fatalf("List names the kept key: %+v, %v", infos, err)
	}

	// The same stale key again: nothing more to keep.
	f.write(`{"api_key": "`+oldKey+`"}`, 0o600)
	if _, err := f.store.MigrateConfig(ctx); err != nil {
		t.Fatal(err)
	}
	// Bringing NEW back keeps OLD in its place and drops NEW's copy.
	if _, err := f.store.Put(ctx, DefaultProfile, newKey, PutOptions{Source: kept.Source, CreatedAt: kept.CreatedAt}); err != nil {
		t.Fatal(err)
	}
	f.wantStored(newKey)
	st, err := f.store.StateFile.Load()
	if err != nil {
		t.Fatal(err)
	}
	if d := st.Displaced[DefaultProfile]; len(d) != 1 || d[0].KeyHint != apikey.Hint(oldKey) {
		t.Fatalf("after bringing NEW back, kept = %+v; want OLD alone", d)
	}
	if _, err := shelf.Get(ctx, kept.Account); !errors.Is(err, storeerr.ErrNotFound) {
		t.Errorf("NEW's kept copy is still on the shelf: %v", err)
	}

	// A rotation revokes what it replaces: nothing kept.
	if _, err := f.store.Put(ctx, DefaultProfile, "sk_ROTATEDrotatedROTATEDrotatedROT12", PutOptions{Source: SourceRotate}); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.store.StateFile.Load(); len(st.Displaced[DefaultProfile]) != 1 {
		t.Errorf("a rotation kept the key it replaced: %+v", st.Displaced[DefaultProfile])
	}

	gone, err := f.store.ForgetDisplaced(ctx, DefaultProfile)
	if err != nil || len(gone) != 1 || gone[0].KeyHint != apikey.Hint(oldKey) {
		t.Fatalf("ForgetDisplaced = %+v, %v", gone, err)
	}
	if _, _, err := f.store.Previous(ctx, DefaultProfile, ""); !errors.Is(err, ErrNoPrevious) {
		t.Errorf("after forgetting: %v, want ErrNoPrevious", err)
	}
}

// A key that cannot be kept is not replaced: the migration leaves the
// plaintext key where it is (to be tried again) and the stored key as it is.
func TestDisplacementThatCannotBeKeptChangesNothing(t *testing.T) {
	f := newMigrationFixture(t)
	ctx := context.Background()
	if _, err := f.store.Put(ctx, DefaultProfile, migKey2, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	f.store.Shelf = failingShelf{f.store.Keychain.(*keychain.Keychain).Shelf()}
	content := `{"api_key": "` + migKey + `"}`
	f.write(content, 0o600)
	res, err := f.store.MigrateConfig(ctx)
	if !errors.Is(err, storeerr.ErrKeychain) || res.Outcome != LeftInPlace || res.Problem != ProblemKeychain {
		t.Fatalf("MigrateConfig = %+v, %v; want the key left in place for a keychain problem", res, err)
	}
	f.wantStored(migKey2)
	if b, _ := os.ReadFile(f.path); string(b) != content {
		t.Errorf("config.json changed: %s", b)
	}
	if _, err := f.store.Put(ctx, DefaultProfile, migKey, PutOptions{}); !errors.Is(err, storeerr.ErrKeychain) {
		t.Errorf("login over a key that cannot be kept: %v, want a keychain error", err)
	}
	f.wantStored(migKey2)
}
