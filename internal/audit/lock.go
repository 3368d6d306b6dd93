package audit

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/torale-ai/torale-cred/internal/filelock"
)

// lockName is the lock file in the state directory that rotating the
// trail and updating the first-use set take.
const lockName = "audit.lock"

// appendLockWait bounds each wait of Append for audit.lock (to rotate, to
// update the first-use set): Append runs on a look-up's path, which an
// audit write must never hold up (SPEC), so past it that step is skipped
// and reported instead.
const appendLockWait = 100 * time.Millisecond

// writerLockWait bounds each wait of the daemon's writer for audit.lock:
// it is off the look-up's path, but a lock another process holds forever
// must cost each batch a bounded wait (the batch counted failed, or its
// first uses not yet named), never stop the trail.
const writerLockWait = 250 * time.Millisecond

// lock takes dir's audit.lock, waiting at most wait for another holder;
// past it the error wraps filelock.ErrBusy.
func lock(dir string, wait time.Duration) (func(), error) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	unlock, err := filelock.Lock(ctx, filepath.Join(dir, lockName))
	if err != nil {
		return nil, fmt.Errorf("locking the audit trail: %w", err)
	}
	return unlock, nil
}
