package filelock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/torale-ai/torale-cred/internal/safefile"
)

// ErrBusy is wrapped when another process held the lock until the
// caller's deadline.
var ErrBusy = errors.New("held by another process")

// Lock takes an exclusive advisory lock on the lock file at path (created
// 0600), trying without blocking and again, a little later each time,
// until ctx is done. The file is opened by safefile's rule: a regular file
// of yours in a trusted directory; a FIFO, device or link planted there is
// refused at once.
//
// It returns the func that releases the lock. Errors: ErrBusy wrapped in a
// sentence naming the file and the wait, when ctx ended first (a ctx
// already done still gets one try); safefile's refusals; the lock call's
// own error.
func Lock(ctx context.Context, path string) (unlock func(), err error) {
	f, _, err := safefile.Open(path, safefile.Options{Flag: os.O_RDWR | os.O_CREATE, Perm: 0o600})
	if err != nil {
		return nil, fmt.Errorf("opening the lock file: %w", err)
	}
	start := time.Now()
	pause := time.Millisecond
	for {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if ok {
			return func() { unlockFile(f); f.Close() }, nil
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, fmt.Errorf("the lock file %s is %w (gave up after %v); if no other torale-cred is running, find what holds it with: lsof %s",
				path, ErrBusy, time.Since(start).Round(time.Millisecond), path)
		case <-t.C:
		}
		pause = min(2*pause, 50*time.Millisecond)
	}
}
