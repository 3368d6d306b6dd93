package audit

import (
	"fmt"
	"os"
	"path/filepath"
)

// Append writes e to dir's trail at once, for a command that read the
// keychain itself: one write of one line (O_APPEND keeps it whole beside
// the daemon's batches), rotating first when the file is full. It reports
// whether e is the first time its executable received the profile's key.
// It never waits long for audit.lock: held by another process past
// appendLockWait, a full trail's line is not written (the error wraps
// filelock.ErrBusy), or, once the line is written, whether its program is
// new stays unknown (false and the error).
func Append(dir string, maxBytes int64, e Event) (firstUse bool, err error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	f, size, err := openTrail(dir)
	if err != nil {
		return false, err
	}
	if size >= maxBytes {
		f.Close()
		if err := rotateFull(dir, maxBytes); err != nil {
			return false, err
		}
		if f, _, err = openTrail(dir); err != nil {
			return false, err
		}
	}
	_, err = f.Write(appendLine(nil, &e, encodeCaller(e.Caller)))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, fmt.Errorf("writing the audit trail: %w", err)
	}
	if !e.HandedOut() {
		return false, nil
	}
	first, err := (&Seen{Dir: dir, wait: appendLockWait}).FirstUse(e.Profile, e.Caller.Exe)
	if err != nil {
		return false, fmt.Errorf("noting %s among the programs seen: %w", e.Caller.Exe, err)
	}
	return first, nil
}

// rotateFull renames a full trail to ".1" under the lock (waiting at most
// appendLockWait for it), unless another process rotated it meanwhile.
func rotateFull(dir string, maxBytes int64) error {
	unlock, err := lock(dir, appendLockWait)
	if err != nil {
		return err
	}
	defer unlock()
	path := filepath.Join(dir, FileName)
	if fi, err := os.Stat(path); err == nil && fi.Size() >= maxBytes {
		if err := os.Rename(path, path+".1"); err != nil {
			return fmt.Errorf("rotating the audit trail: %w", err)
		}
	}
	return nil
}
