package scan

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func fixer(stored *[]string, fail error) Fixer {
	return Fixer{
		Store: func(_ context.Context, key string) error {
			if fail != nil {
				return fail
			}
			*stored = append(*stored, key)
			return nil
		},
		Token: tok, URL: ep, SameURL: anyURL,
		Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) },
	}
}

func TestFixFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, ".env")
	in := "A=1\r\nTORALE_API_KEY=\"" + keyDocs + "\" # c\r\nB=2"
	write(t, p, in, 0o640)
	var stored []string
	res, err := fixer(&stored, nil).FixFile(context.Background(), p, keyDocs)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 1 || stored[0] != keyDocs {
		t.Fatalf("stored %d keys", len(stored))
	}
	got, _ := os.ReadFile(p)
	want := "A=1\r\nTORALE_API_KEY=\"" + tok + "\" # c\r\nTORALE_API_URL=" + ep + "\r\nB=2"
	if string(got) != want {
		t.Errorf("rewritten:\n%q\nwant\n%q", got, want)
	}
	if res.Backup != p+BackupInfix+"20260102T030405Z" || res.KeyHint != hint(keyDocs) {
		t.Errorf("result %+v", res)
	}
	b, err := os.ReadFile(res.Backup)
	if err != nil || string(b) != in {
		t.Errorf("backup holds %q (%v)", b, err)
	}
	if runtime.GOOS != "windows" {
		for path, mode := range map[string]os.FileMode{res.Backup: 0o600, p: 0o640} {
			if fi, _ := os.Stat(path); fi.Mode().Perm() != mode {
				t.Errorf("%s is %v, want %v", path, fi.Mode().Perm(), mode)
			}
		}
	}
	// Again: nothing holds the key, nothing to do, nothing stored.
	if _, err := fixer(&stored, nil).FixFile(context.Background(), p, keyDocs); !errors.Is(err, ErrNotRewritable) || len(stored) != 1 {
		t.Errorf("second fix: %v, %d stores", err, len(stored))
	}
	// A second backup the same second gets a name of its own.
	write(t, p, in, 0o640)
	res2, err := fixer(&stored, nil).FixFile(context.Background(), p, keyDocs)
	if err != nil || res2.Backup == res.Backup || !strings.HasPrefix(res2.Backup, res.Backup) {
		t.Errorf("second backup %q (%v)", res2.Backup, err)
	}
}

// The keychain refusing leaves the file as it was and writes no backup.
func TestFixFileStoreFails(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, ".env")
	in := "TORALE_API_KEY=" + keyDocs + "\n"
	write(t, p, in, 0o600)
	var stored []string
	_, err := fixer(&stored, errors.New("keychain locked")).FixFile(context.Background(), p, keyDocs)
	if err == nil {
		t.Fatal("no error")
	}
	if b, _ := os.ReadFile(p); string(b) != in {
		t.Errorf("file changed: %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("left behind: %v", ents)
	}
}

// A file another program writes between the read and the swap is kept as
// that program wrote it; the backup (redundant: the keychain holds the key)
// goes.
func TestFixFileChangedMeanwhile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, ".env")
	write(t, p, "TORALE_API_KEY="+keyDocs+"\n", 0o600)
	var stored []string
	fx := fixer(&stored, nil)
	theirs := "TORALE_API_KEY=" + keyDocs + "\nNEW=1\n"
	fx.beforeSwap = func() { write(t, p, theirs, 0o600) }
	_, err := fx.FixFile(context.Background(), p, keyDocs)
	if !errors.Is(err, ErrChanged) {
		t.Fatalf("err %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != theirs {
		t.Errorf("their write lost: %q", b)
	}
	if len(stored) != 1 {
		t.Errorf("the key was not stored first")
	}
}

func TestFixFileRefusesLink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks")
	}
	dir := t.TempDir()
	write(t, filepath.Join(dir, "real.env"), "TORALE_API_KEY="+keyDocs+"\n", 0o600)
	must(t, os.Symlink("real.env", filepath.Join(dir, ".env")))
	var stored []string
	if _, err := fixer(&stored, nil).FixFile(context.Background(), filepath.Join(dir, ".env"), keyDocs); !errors.Is(err, ErrNotRewritable) || len(stored) != 0 {
		t.Errorf("a link was rewritten: %v", err)
	}
}
