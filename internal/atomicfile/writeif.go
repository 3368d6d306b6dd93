package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// WriteIf is Write with a last look: check runs once the new content is
// safely on disk in the temporary file, immediately before the rename, and
// an error from it abandons the write (the temporary file is removed and
// the error returned as is). It lets a caller refuse to replace a file that
// changed since it was read. path must not be a symlink.
func WriteIf(path string, data []byte, perm os.FileMode, check func() error) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	done := false
	defer func() {
		if !done {
			_ = os.Remove(tmp)
		}
	}()
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Chmod(tmp, perm); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if check != nil {
		if err := check(); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	done = true
	if err := syncDir(filepath.Clean(dir)); err != nil {
		return fmt.Errorf("syncing the directory of %s: %w", path, err)
	}
	return nil
}
