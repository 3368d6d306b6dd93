//go:build unix

package filelock

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/internal/hangtest"

	"github.com/torale-ai/torale-cred/internal/safefile"
)

func TestLockHeldElsewhereGivesUpAtTheDeadline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.lock")
	release := hangtest.HoldFlock(t, path)
	defer release()
	for _, name := range []string{"deadline", "already done"} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			if name == "already done" {
				cancel()
			}
			defer cancel()
			err := hangtest.Within(t, func() error {
				unlock, err := Lock(ctx, path)
				if err == nil {
					unlock()
				}
				return err
			})
			if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Lock on a held lock = %v; want ErrBusy naming %s", err, path)
			}
		})
	}
}

// A lock released while Lock waits is taken; the lock then excludes
// another taker until unlocked.
func TestLockWaitsForRelease(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.lock")
	release := hangtest.HoldFlock(t, path)
	got := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var unlock func()
	go func() {
		var err error
		unlock, err = Lock(ctx, path)
		got <- err
	}()
	release()
	if err := <-got; err != nil {
		t.Fatalf("Lock after the release: %v", err)
	}
	done, stop := context.WithCancel(context.Background())
	stop()
	if _, err := Lock(done, path); !errors.Is(err, ErrBusy) {
		t.Fatalf("a second Lock while held: %v", err)
	}
	unlock()
	again, err := Lock(done, path)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	again()
}

// Whatever stands at the lock's path instead of a regular file is refused
// at once: a FIFO there must not hang the open.
func TestLockRefusesWhatIsNotALockFile(t *testing.T) {
	tests := []struct {
		name string
		make func(path string) error
	}{
		{"FIFO", func(p string) error { return syscall.Mkfifo(p, 0o600) }},
		{"directory", func(p string) error { return os.Mkdir(p, 0o700) }},
		{"link", func(p string) error { return os.Symlink("elsewhere", p) }},
		{"device behind a link", func(p string) error { return os.Symlink("/dev/null", p) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.lock")
			if err := tt.make(path); err != nil {
				t.Fatal(err)
			}
			err := hangtest.Within(t, func() error {
				unlock, err := Lock(context.Background(), path)
				if err == nil {
					unlock()
				}
				return err
			})
			if !errors.Is(err, safefile.ErrNotRegular) {
				t.Fatalf("Lock = %v, want safefile.ErrNotRegular", err)
			}
		})
	}
}
