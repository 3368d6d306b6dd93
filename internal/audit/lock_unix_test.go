//go:build unix

package audit

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/internal/hangtest"

	"github.com/torale-ai/torale-cred/internal/filelock"
)

// Another process holding audit.lock costs Append one bounded wait per
// step that needs the lock, then that step is skipped with an error
// wrapping filelock.ErrBusy: the line (which needs no lock) is written,
// the first-use set is not; a full trail's line is not written.
func TestAppendUnderAHeldLock(t *testing.T) {
	dir := t.TempDir()
	hangtest.HoldFlock(t, filepath.Join(dir, lockName))
	first, err := Append(dir, 0, event(1))
	if first || !errors.Is(err, filelock.ErrBusy) || !strings.Contains(err.Error(), filepath.Join(dir, lockName)) {
		t.Fatalf("Append of a new program = %v, %v; want filelock.ErrBusy naming the lock", first, err)
	}
	if evs, _, _ := Read(dir, Filter{}); len(evs) != 1 {
		t.Fatalf("%d lines in the trail, want the one written", len(evs))
	}
	err = hangtest.Within(t, func() error { _, err := Append(dir, 1, event(2)); return err })
	if !errors.Is(err, filelock.ErrBusy) {
		t.Fatalf("Append to a full trail = %v, want filelock.ErrBusy", err)
	}
	if evs, _, _ := Read(dir, Filter{}); len(evs) != 1 {
		t.Fatalf("%d lines in the trail, want only the first", len(evs))
	}
}

// The daemon's writer, with audit.lock held elsewhere, keeps going: Close
// returns, a full trail's batch is counted failed, the first-use set's
// failure is logged once; once the hold ends both work again.
func TestTrailUnderAHeldLock(t *testing.T) {
	dir := t.TempDir()
	release := hangtest.HoldFlock(t, filepath.Join(dir, lockName))
	var named []string
	var log bytes.Buffer
	open := func() *Trail {
		return Open(dir, Options{MaxBytes: 1, FlushEvery: time.Hour, Logger: newTestLogger(&log),
			FirstUse: func(e Event) { named = append(named, e.Caller.Exe) }})
	}
	closeTrail := func(tr *Trail) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tr.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}

	// The first batch finds an empty trail: written, but its program
	// cannot be recorded as seen.
	tr := open()
	tr.Record(event(1))
	tr.Record(event(2))
	closeTrail(tr)
	if st := tr.Stats(); st.Written != 2 || len(named) != 0 {
		t.Fatalf("stats %+v, named %v; want 2 written, none named", st, named)
	}
	if n := strings.Count(log.String(), "cannot keep the set of programs seen"); n != 1 {
		t.Fatalf("logged the first-use failure %d times, want once:\n%s", n, &log)
	}

	// The trail is now full: rotating needs the lock, so the batch fails.
	tr = open()
	tr.Record(event(3))
	closeTrail(tr)
	if st := tr.Stats(); st.Written != 0 || st.Failed != 1 {
		t.Fatalf("stats %+v; want the batch failed", st)
	}
	if !strings.Contains(log.String(), "held by another process") {
		t.Fatalf("the log does not say the lock is held:\n%s", &log)
	}

	release()
	tr = open()
	tr.Record(event(4))
	closeTrail(tr)
	if st := tr.Stats(); st.Written != 1 || len(named) != 1 || named[0] != caller.Exe {
		t.Fatalf("after the hold: stats %+v, named %v; want written and the program named", st, named)
	}
}
