// Package trust decides, as OpenSSH's StrictModes does, whether a file or
// directory may be believed: it must be owned by this user and writable by
// nobody else. It only inspects; it never changes a mode or reads content.
package trust

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrUntrusted is wrapped by every refusal, so callers can tell "not ours"
// from "missing" or "unreadable".
var ErrUntrusted = errors.New("not trusted")

// Info checks one file, directory or symlink as Lstat saw it: owned by
// this user and, unless a symlink (whose mode bits mean nothing), not
// writable by group or others.
func Info(path string, fi fs.FileInfo) error {
	if uid, ok := Owner(fi); ok && uid != os.Getuid() {
		return fmt.Errorf("%w: %s is owned by user id %d, not by you; nothing is read from it (fix: check who wrote it, then chown it to yourself)", ErrUntrusted, path, uid)
	}
	if perm := fi.Mode().Perm(); writableByOthers(fi) {
		return fmt.Errorf("%w: %s is writable by others (mode %#o); nothing is read from it (fix: chmod go-w %s)", ErrUntrusted, path, perm, path)
	}
	return nil
}

// Dir checks the directory at path (a symlink to a directory is checked at
// its target, and the link's own directory too). A missing directory is
// fs.ErrNotExist.
func Dir(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		if err := Info(path, fi); err != nil { // the link's owner
			return err
		}
		t, err := filepath.EvalSymlinks(path)
		if err != nil {
			return err
		}
		return Dir(t)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: %s is not a directory", ErrUntrusted, path)
	}
	return Info(path, fi)
}

// OwnedBy reports whether uid owns the file fi describes.
func OwnedBy(fi fs.FileInfo, uid int) bool {
	o, ok := Owner(fi)
	return ok && o == uid
}
