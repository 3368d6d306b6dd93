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
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(stale); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stale temporary file is still there")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a fresh temporary file (a write in progress) was removed: %v", err)
	}
	if !strings.Contains(f.log.String(), "removed temporary files") {
		t.Errorf("no log line for the sweep:\n%s", f.log.String())
	}
}

// A daemon killed mid-rewrite and restarted at once (systemd's
// Restart=on-failure) finds a leftover too young to sweep; the watcher
// sweeps again once it is old enough, so a plaintext key a kill left in
// it does not wait on disk for the next start.
func TestWatcherSweepsAYoungLeftoverOnceItIsOld(t *testing.T) {
	f := newWatchFixture(t, func(f *watchFixture) { f.w.TempAge = 300 * time.Millisecond })
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	young := filepath.Join(f.dir, ".config.json.4444.tmp")
	if err := os.WriteFile(young, []byte(`{"api_url":"https://x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	f.run(t)
	time.Sleep(100 * time.Millisecond)
	if _, err := os.Stat(young); err != nil {
		t.Fatalf("a leftover younger than TempAge was removed at start: %v", err)
	}
	deadline := started.Add(5 * time.Second)
	for {
		if _, err := os.Stat(young); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the leftover is still there 5 s after it became old enough")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if took := time.Since(started); took < 300*time.Millisecond || took > 2*time.Second {
		t.Errorf("swept %s after the start, want about TempAge (300ms)", took)
	}
}
