package toraleconfig

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The file changing between the read and the rename is never overwritten:
// other bytes of the same size, or the same bytes under another inode (a
// rename), are ErrChanged, and the migration starts over.
func TestRewriteRefusesAChangedFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".torale")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.json")
	write := func(k string) {
		t.Helper()
		if err := os.WriteFile(path, []byte("{\n  \"api_key\": \""+k+"\"\n}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(key)
	snap, err := Load(path)
	if !snap.Exists || err != nil {
		t.Fatalf("read: %+v %v", snap, err)
	}
	if err := unchanged(snap); err != nil {
		t.Fatalf("unchanged file reported changed: %v", err)
	}
	// Same size, new content (another key of equal length).
	other := strings.Replace(key, "abc", "cba", 1)
	write(other)
	if err := unchanged(snap); !errors.Is(err, ErrChanged) {
		t.Fatalf("changed content not seen: %v", err)
	}
	if err := Rewrite(snap, []byte("{}\n")); !errors.Is(err, ErrChanged) {
		t.Fatalf("Rewrite over changed content: %v", err)
	}
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), other) {
		t.Fatalf("Rewrite wrote over changed content: %q", b)
	}
	// Replaced by rename with the same bytes: another inode.
	tmp := path + ".new"
	_ = os.WriteFile(tmp, snap.Raw, 0o600)
	_ = os.Rename(tmp, path)
	if err := unchanged(snap); !errors.Is(err, ErrChanged) {
		t.Fatalf("replaced file not seen: %v", err)
	}
}
