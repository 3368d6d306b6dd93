package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
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

// SweepTemps removes the temporary files WriteIf leaves beside path when its
// process is killed between creating one and renaming it: regular files
// named like WriteIf's (".<name>.<digits>.tmp") whose last change is older
// than age, so a write still in progress is left alone. It returns how many
// it removed. Such a file holds the new content, never more than path would.
func SweepTemps(path string, age time.Duration) (int, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("looking for left-over temporary files of %s: %w", path, err)
	}
	prefix := "." + base + "."
	cutoff := time.Now().Add(-age)
	removed := 0
	var errs []error
	for _, e := range entries {
		name := e.Name()
		mid, ok := strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		mid, ok = strings.CutSuffix(mid, ".tmp")
		if !ok || mid == "" || strings.Trim(mid, "0123456789") != "" || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil || fi.ModTime().After(cutoff) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}
