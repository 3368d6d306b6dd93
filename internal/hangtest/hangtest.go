//go:build unix

// Package hangtest is test scaffolding for "this must not block": it turns
// a hang into a failure and holds a lock as another process would. It
// measures no speed, and nothing outside tests imports it.
package hangtest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Patience is how long Within waits before calling a call hung: generous,
// as it only turns a hang into a failure on a loaded machine.
const Patience = 10 * time.Second

// Within runs fn and fails t if it has not returned within Patience.
func Within[T any](t testing.TB, fn func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- fn() }()
	select {
	case v := <-done:
		return v
	case <-time.After(Patience):
		t.Fatalf("blocked: still waiting after %s", Patience)
		var zero T
		return zero
	}
}

// HoldFlock flocks path (created 0600 if absent) through an open file of
// its own, as another process would: flock locks belong to the open file.
// release drops it early; the test's end drops it anyway.
func HoldFlock(t testing.TB, path string) (release func()) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return func() { f.Close() }
}
