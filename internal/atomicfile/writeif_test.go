package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestWriteIf(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	refuse := errors.New("changed")
	var sawTemp bool
	err := WriteIf(path, []byte("new"), 0o600, func() error {
		ents, _ := os.ReadDir(dir)
		sawTemp = len(ents) == 2 // the new content waits beside the old
		return refuse
	})
	if !errors.Is(err, refuse) || !sawTemp {
		t.Fatalf("WriteIf = %v (temp seen %v), want the check's error", err, sawTemp)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Fatalf("a refused write replaced the file: %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("temporary file left behind: %v", ents)
	}

	if err := WriteIf(path, []byte("new"), 0o400, func() error { return nil }); err != nil {
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
