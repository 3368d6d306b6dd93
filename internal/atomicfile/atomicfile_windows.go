//go:build windows

package atomicfile

import (
	"os"
	"path/filepath"
)

// renameio does not support Windows; MoveFileEx (os.Rename) replaces
// atomically on NTFS.
func replace(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	name := f.Name()
	defer os.Remove(name)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	_ = os.Chmod(name, perm)
	return os.Rename(name, path)
}

func syncDir(string) error { return nil }
