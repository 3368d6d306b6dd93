package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestSwapCheckAndMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	refuse := errors.New("changed")
	var sawTemp bool
	err := Swap{Check: func() error {
		ents, _ := os.ReadDir(dir)
		sawTemp = len(ents) == 2 // the new content waits beside the old
		return refuse
	}}.Write(path, []byte("new"), 0o600)
	if !errors.Is(err, refuse) || !sawTemp {
		t.Fatalf("Swap.Write = %v (temp seen %v), want the check's error", err, sawTemp)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Fatalf("a refused write replaced the file: %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("temporary file left behind: %v", ents)
	}

	same := func(b []byte, _ os.FileInfo) bool { return string(b) == "old" }
	if err := (Swap{Check: func() error { return nil }, Same: same}).Write(path, []byte("new"), 0o400); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	fi, _ := os.Stat(path)
	if string(b) != "new" {
		t.Fatalf("content %q", b)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o400 {
		t.Fatalf("mode %v, want 0400 whatever the umask", fi.Mode().Perm())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("temporary file left behind: %v", ents)
	}
}

func TestSweepTempsRemovesOnlyOldLeftovers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	old := time.Now().Add(-time.Hour)
	mk := func(name string, aged bool) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
		if aged {
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	gone := mk(".config.json.123456.tmp", true)
	fresh := mk(".config.json.654321.tmp", false)      // a write in progress
	other := mk(".config.json.abc.tmp", true)          // not Swap.Write's name
	state := mk(".state.json.123456.tmp", true)        // another file's
	plain := mk("config.json", true)                   // the file itself
	link := filepath.Join(dir, ".config.json.777.tmp") // a symlink is never followed or removed
	if err := os.Symlink(plain, link); err != nil {
		t.Fatal(err)
	}

	n, kept, err := SweepTemps(path, time.Minute, nil)
	if err != nil || n != 1 || len(kept) != 0 {
		t.Fatalf("SweepTemps = %d, %v, %v; want 1, none kept, nil", n, kept, err)
	}
	if _, err := os.Stat(gone); !os.IsNotExist(err) {
		t.Errorf("old leftover kept: %v", err)
	}
	for _, p := range []string{fresh, other, state, plain, link} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s removed: %v", filepath.Base(p), err)
		}
	}
}

// A leftover that may not go (it holds a key the keychain lacks) is kept
// aside under a name of its own, never deleted.
func TestSweepTempsKeepsWhatMayNotGo(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	p := filepath.Join(dir, ".config.json.42.tmp")
	if err := os.WriteFile(p, []byte(`{"api_key":"precious"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	_ = os.Chtimes(p, old, old)
	n, kept, err := SweepTemps(path, time.Minute, func(b []byte) bool { return !strings.Contains(string(b), "precious") })
	if err != nil || n != 0 || len(kept) != 1 {
		t.Fatalf("SweepTemps = %d, %v, %v", n, kept, err)
	}
	if b, err := os.ReadFile(kept[0]); err != nil || !strings.Contains(string(b), "precious") || filepath.Base(kept[0]) != "config.json.recovered-42" {
		t.Fatalf("kept %s: %q %v", kept[0], b, err)
	}
}
