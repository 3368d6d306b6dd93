// Package atomicfile replaces a file so that a crash at any instant leaves
// either the old content or the new, never a torn or empty file.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Write replaces path with data, created with exactly perm (umask ignored):
// temp file in the same directory, fsync, rename, fsync of the directory.
// path must not be a symlink; resolve it first to keep the link.
func Write(path string, data []byte, perm os.FileMode) error {
	if err := replace(path, data, perm); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("syncing the directory of %s: %w", path, err)
	}
	return nil
}
