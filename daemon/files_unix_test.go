//go:build unix

package daemon

import (
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/internal/safefile"
)

// A FIFO at config.json or state.json never hangs the daemon's reload
// (the watcher's, the Store's after a write): each file's error is served
// in place of its content, and the other file is read as usual. The bound
// (patience) only turns a hang into a failure.
func TestReloadRefusesAFIFO(t *testing.T) {
	t.Parallel()
	for _, which := range []string{"config.json", "state.json"} {
		t.Run(which, func(t *testing.T) {
			f := newFilesFixture(t, `{"api_url": "https://one.example"}`)
			path := f.cfg
			if which == "state.json" {
				path = f.state.Path()
			}
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { f.fc.Reload(); close(done) }()
			select {
			case <-done:
			case <-time.After(patience):
				t.Fatal("Reload blocked on a FIFO")
			}
			_, cfgErr := f.fc.Config()
			_, stErr := f.fc.State()
			got, other := cfgErr, stErr
			if which == "state.json" {
				got, other = stErr, cfgErr
			}
			if !errors.Is(got, safefile.ErrNotRegular) || other != nil {
				t.Fatalf("%s: %v (the other file: %v); want safefile.ErrNotRegular and no other error", which, got, other)
			}
		})
	}
}
