package audit

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/torale-ai/torale-cred/internal/filelock"
)

// Append writes e to dir's trail at once, for a command that read the
// keychain itself: one write of one line (O_APPEND keeps it whole beside
// the daemon's batches), rotating first when the file is full. It reports
// whether e is the first time its executable received the profile's key.
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
	return (&Seen{Dir: dir}).FirstUse(e.Profile, e.Caller.Exe)
}

// rotateFull renames a full trail to ".1" under the lock, unless another
// process rotated it meanwhile.
func rotateFull(dir string, maxBytes int64) error {
	unlock, err := filelock.Lock(filepath.Join(dir, "audit.lock"))
	if err != nil {
		return fmt.Errorf("locking the audit trail: %w", err)
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
