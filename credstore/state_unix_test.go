//go:build unix

package credstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/internal/hangtest"

	"github.com/torale-ai/torale-cred/internal/safefile"
	"github.com/torale-ai/torale-cred/internal/trust"
)

// Whatever stands at state.json or state.lock, reading the metadata (a
// reload, status) and writing it (login, a migration, a policy) answer at
// once: a FIFO is refused, never waited on, and nothing is written.
func TestStateFileRefusesWhatItCannotRead(t *testing.T) {
	fifo := func(p string) error { return syscall.Mkfifo(p, 0o600) }
	tests := []struct {
		name       string
		file       string
		make       func(path string) error
		wantLoad   error // nil: Load succeeds
		wantUpdate error
	}{
		{"FIFO at state.json", "state.json", fifo, safefile.ErrNotRegular, safefile.ErrNotRegular},
		{"FIFO at state.lock", "state.lock", fifo, nil, safefile.ErrNotRegular},
		{"directory at state.json", "state.json", func(p string) error { return os.Mkdir(p, 0o700) }, safefile.ErrNotRegular, safefile.ErrNotRegular},
		{"link at state.json", "state.json", func(p string) error { return os.Symlink("/dev/zero", p) }, safefile.ErrNotRegular, safefile.ErrNotRegular},
		{"state.json too large", "state.json", func(p string) error { return os.WriteFile(p, make([]byte, maxStateSize+1), 0o600) }, safefile.ErrTooLarge, safefile.ErrTooLarge},
		{"state.json writable by others", "state.json", func(p string) error {
			if err := os.WriteFile(p, []byte(`{"version":1,"profiles":{}}`), 0o600); err != nil {
				return err
			}
			return os.Chmod(p, 0o666)
		}, trust.ErrUntrusted, trust.ErrUntrusted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := StateFile{Dir: filepath.Join(t.TempDir(), "state")}
			if err := os.Mkdir(f.Dir, 0o700); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(f.Dir, tt.file)
			if err := tt.make(path); err != nil {
				t.Fatal(err)
			}
			before, _ := os.Lstat(f.Path())
			if err := hangtest.Within(t, func() error { _, err := f.Load(); return err }); !errors.Is(err, tt.wantLoad) || (err == nil) != (tt.wantLoad == nil) {
				t.Errorf("Load = %v, want %v", err, tt.wantLoad)
			}
			called := false
			err := hangtest.Within(t, func() error { return f.Update(func(*State) error { called = true; return nil }) })
			if !errors.Is(err, tt.wantUpdate) || !strings.Contains(err.Error(), path) {
				t.Errorf("Update = %v, want %v naming %s", err, tt.wantUpdate, path)
			}
			after, _ := os.Lstat(f.Path())
			if called || (before == nil) != (after == nil) || before != nil && !os.SameFile(before, after) {
				t.Error("the metadata was written")
			}
		})
	}
}

// A FIFO at state.json holds up no look-up: the key is answered, the
// metadata's error stays the metadata's.
func TestLookupWithAFIFOAtStateJSON(t *testing.T) {
	f := newPolicyFixture(t, "", nil)
	if err := os.MkdirAll(f.store.StateFile.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(f.store.StateFile.Path(), 0o600); err != nil {
		t.Fatal(err)
	}
	// torale-cred's own check (no door) learns the key's hint; a hand-out
	// is denied, as a policy that cannot be read denies.
	r := hangtest.Within(t, func() Resolution {
		r, _ := f.store.Resolve(context.Background(), Request{})
		return r
	})
	if r.KeyHint != apikey.Hint(polKey) {
		t.Fatalf("the look-up returned no key (source %s)", r.KeySource)
	}
	if _, err := f.store.Resolve(lookupAs(curl, DoorToken), Request{}); !errors.Is(err, ErrDenied) {
		t.Fatalf("a hand-out with state.json unreadable: %v, want denied", err)
	}
}
