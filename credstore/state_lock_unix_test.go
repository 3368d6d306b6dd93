//go:build unix

package credstore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/internal/hangtest"

	"github.com/torale-ai/torale-cred/internal/audit"
	"github.com/torale-ai/torale-cred/internal/filelock"
	"github.com/torale-ai/torale-cred/internal/safefile"
)

// A writer waits for another process's hold on state.lock only so long,
// then fails with a sentence naming the lock file; once the hold ends the
// next write goes through.
func TestStateUpdateGivesUpOnAHeldLock(t *testing.T) {
	f := StateFile{Dir: filepath.Join(t.TempDir(), "state"), lockWait: 50 * time.Millisecond}
	lock := filepath.Join(f.Dir, "state.lock")
	release := hangtest.HoldFlock(t, lock)
	called := false
	err := hangtest.Within(t, func() error { return f.Update(func(*State) error { called = true; return nil }) })
	if !errors.Is(err, filelock.ErrBusy) || !strings.Contains(err.Error(), lock) || called {
		t.Fatalf("Update under a held lock = %v (fn called %v); want filelock.ErrBusy naming %s", err, called, lock)
	}
	release()
	if err := f.Update(func(s *State) error { s.ConfigProfile = "work"; return nil }); err != nil {
		t.Fatalf("Update after the hold ended: %v", err)
	}
}

// A brief hold is waited out: the default wait is for exactly this.
func TestStateUpdateWaitsOutABriefHold(t *testing.T) {
	f := StateFile{Dir: filepath.Join(t.TempDir(), "state")}
	release := hangtest.HoldFlock(t, filepath.Join(f.Dir, "state.lock"))
	done := make(chan error, 1)
	go func() { done <- f.Update(func(s *State) error { s.ConfigProfile = "work"; return nil }) }()
	release()
	if err := hangtest.Within(t, func() error { return <-done }); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// A look-up whose trail is written at once (a command's, or a caller's own
// state directory) completes with its key while another process holds
// audit.lock or a FIFO stands there: the audit step is skipped with an
// error, never waited on.
func TestLookupNeverWaitsOnTheAuditLock(t *testing.T) {
	tests := []struct {
		name string
		make func(t *testing.T, lock string)
		want error
	}{
		{"audit.lock held", func(t *testing.T, lock string) { hangtest.HoldFlock(t, lock) }, filelock.ErrBusy},
		{"FIFO at audit.lock", func(t *testing.T, lock string) {
			if err := syscall.Mkfifo(lock, 0o600); err != nil {
				t.Fatal(err)
			}
		}, safefile.ErrNotRegular},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newPolicyFixture(t, "", nil)
			dir := f.store.StateFile.Dir
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			tt.make(t, filepath.Join(dir, "audit.lock"))
			auditErr := make(chan error, 1)
			f.store.Audit = func(e audit.Event) {
				_, err := audit.Append(dir, 0, e)
				auditErr <- err
			}
			type result struct {
				r   Resolution
				err error
			}
			got := hangtest.Within(t, func() result {
				r, err := f.store.Resolve(lookupAs(curl, DoorSocket), Request{})
				return result{r, err}
			})
			if got.err != nil || got.r.Key != polKey {
				t.Fatalf("the look-up: %v (key handed out: %v)", got.err, got.r.Key == polKey)
			}
			if err := <-auditErr; !errors.Is(err, tt.want) {
				t.Errorf("Append = %v, want %v", err, tt.want)
			}
			// The line itself needs no lock: it is in the trail.
			if evs, _, err := audit.Read(dir, audit.Filter{}); err != nil || len(evs) != 1 {
				t.Errorf("trail: %d events, %v; want the look-up's line", len(evs), err)
			}
		})
	}
}
