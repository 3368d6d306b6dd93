package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A daemon killed mid-rewrite leaves config.json's temporary file behind;
// the next watcher removes it (if old), and leaves a fresh one alone.
func TestWatcherSweepsLeftoverRewriteTemps(t *testing.T) {
	t.Parallel()
	f := newWatchFixture(t, nil)
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(f.dir, ".config.json.4242.tmp")
	fresh := filepath.Join(f.dir, ".config.json.4343.tmp")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte(`{"api_url":"https://x"}`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * tempAge)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	f.run(t)
	waitFor(t, func() bool { _, err := os.Stat(stale); return os.IsNotExist(err) })
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a fresh temporary file (a write in progress) was removed: %v", err)
	}
	// The line follows the removal.
	waitFor(t, func() bool { return strings.Contains(f.log.String(), "removed temporary files") })
}

// A daemon killed mid-rewrite and restarted at once (systemd's
// Restart=on-failure) finds a leftover too young to sweep; the watcher
// sweeps again once it is old enough, so a plaintext key a kill left in
// it does not wait on disk for the next start.
//
// The leftover must still be young when the watcher's first sweep runs,
// which a loaded machine can delay past a short TempAge: then that round
// shows nothing, and the test goes again with a longer one.
func TestWatcherSweepsAYoungLeftoverOnceItIsOld(t *testing.T) {
	t.Parallel()
	for _, age := range []time.Duration{300 * time.Millisecond, 2 * time.Second, 10 * time.Second} {
		if sweptOnceOld(t, age) {
			return
		}
		t.Logf("the watcher started more than %s after the leftover was written; again with a longer TempAge", age)
	}
	t.Fatal("the watcher never started within TempAge of the leftover, even with 10 s")
}

// sweptOnceOld runs one round with TempAge age; false: the watcher's first
// sweep came too late to tell anything.
func sweptOnceOld(t *testing.T, age time.Duration) bool {
	f := newWatchFixture(t, func(f *watchFixture) { f.w.TempAge = age })
	defer func() {
		if f.stop != nil { // set by run
			f.stop()
		}
	}()
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	young := filepath.Join(f.dir, ".config.json.4444.tmp")
	if err := os.WriteFile(young, []byte(`{"api_url":"https://x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	// Its age counts from written (the sweep reads the modification time).
	written := time.Now()
	if err := os.Chtimes(young, written, written); err != nil {
		t.Fatal(err)
	}
	f.run(t) // returns after the first scan, which follows the first sweep
	// Looked at first, the time after: gone when it was still younger than
	// TempAge is a sweep too early; once TempAge passed, a later sweep may
	// have taken it, and this round tells nothing.
	_, err := os.Stat(young)
	if time.Since(written) >= age {
		return false
	}
	if err != nil {
		t.Fatalf("a leftover younger than TempAge was removed at start: %v", err)
	}
	waitFor(t, func() bool { _, err := os.Stat(young); return os.IsNotExist(err) })
	if took := time.Since(written); took < age {
		t.Errorf("swept %s after it was written, before it was TempAge (%s) old", took, age)
	}
	// The line follows the removal.
	waitFor(t, func() bool { return strings.Contains(f.log.String(), "removed temporary files") })
	return true
}
