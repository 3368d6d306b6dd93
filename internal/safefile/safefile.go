// Package safefile opens every file torale-cred reads or locks (config.json,
// state.json, seen.json, the audit trail, the lock files) by one rule: the
// file's directory and the file itself pass the trust rules, the open never
// blocks (a FIFO or device planted there is refused at once), and only a
// regular file of a bounded size is handed back. It never writes content.
package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/torale-ai/torale-cred/internal/trust"
)

// Why a file was refused, beyond trust.ErrUntrusted. Each is wrapped with
// the path and what was found there.
var (
	ErrNotRegular = errors.New("not a regular file")
	ErrTooLarge   = errors.New("too large")
)

// Options say how a file is opened. The zero value opens for reading,
// refuses a symlink and reads any size.
type Options struct {
	// Flag is added to O_RDONLY: os.O_RDWR, os.O_APPEND, os.O_CREATE.
	Flag int
	// Perm is the mode a file O_CREATE makes is given (before umask).
	Perm fs.FileMode
	// FollowLink follows a symlink at the path (config.json, which users
	// link from their dotfiles): the link and its target's directory must
	// pass the trust rules too. Otherwise a symlink there is refused.
	FollowLink bool
	// MaxSize refuses a larger file (0: any size).
	MaxSize int64
}

// Open opens path by the one rule: its directory passes trust.Dir; the
// open never blocks and never follows a symlink (unless o.FollowLink, and
// then only after the link and its target's directory are checked); what
// was opened is then checked by fstat, so nothing swapped in between a
// check and the open gets through: a regular file that passes trust.Info,
// at most o.MaxSize bytes.
//
// It returns the open file (f.Name() is the file opened: a followed link's
// target) and its FileInfo. Errors wrap fs.ErrNotExist (the file, its
// directory or a link's target is missing), trust.ErrUntrusted,
// ErrNotRegular, ErrTooLarge, or the open's own error; each names the path.
func Open(path string, o Options) (*os.File, fs.FileInfo, error) {
	if err := trust.Dir(filepath.Dir(path)); err != nil {
		return nil, nil, err
	}
	target := path
	li, err := os.Lstat(path)
	switch {
	case err == nil && li.Mode()&fs.ModeSymlink != 0 && o.FollowLink:
		if err := trust.Info(path, li); err != nil {
			return nil, nil, err
		}
		if target, err = filepath.EvalSymlinks(path); err != nil {
			return nil, nil, err // a dangling link: fs.ErrNotExist
		}
		if err := trust.Dir(filepath.Dir(target)); err != nil {
			return nil, nil, err
		}
	case err == nil && li.Mode()&fs.ModeSymlink != 0:
		return nil, nil, notRegular(path, li)
	case err != nil && (o.Flag&os.O_CREATE == 0 || !errors.Is(err, fs.ErrNotExist)):
		return nil, nil, err
	}
	f, err := openFile(target, o.Flag, o.Perm)
	if err != nil {
		// A FIFO with no reader or a socket refuses a non-blocking
		// write open (ENXIO), a directory a write open (EISDIR), a link any
		// open (ELOOP): say what is there.
		if li, lerr := os.Lstat(target); lerr == nil && !li.Mode().IsRegular() {
			return nil, nil, notRegular(target, li)
		}
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = notRegular(target, fi)
	}
	if err == nil {
		err = trust.Info(target, fi)
	}
	if err == nil && o.MaxSize > 0 && fi.Size() > o.MaxSize {
		err = fmt.Errorf("%w: %s is %d bytes, larger than the %d it may be", ErrTooLarge, target, fi.Size(), o.MaxSize)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// Read reads the rest of f, refusing it (ErrTooLarge) past max bytes: a
// file that grew after Open checked its size.
func Read(f *os.File, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", f.Name(), err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w: %s grew past %d bytes while read", ErrTooLarge, f.Name(), max)
	}
	return b, nil
}

// ReadFile is Open for reading, then Read: the whole of a small file.
// o.MaxSize must be set.
func ReadFile(path string, o Options) ([]byte, error) {
	if o.MaxSize <= 0 {
		return nil, fmt.Errorf("safefile.ReadFile %s: no size limit given", path)
	}
	f, _, err := Open(path, o)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f, o.MaxSize)
}

// notRegular says what stands at path instead of a regular file.
func notRegular(path string, fi fs.FileInfo) error {
	what := "not a regular file"
	switch m := fi.Mode(); {
	case m.IsDir():
		what = "a directory"
	case m&fs.ModeSymlink != 0:
		what = "a symbolic link, which is not followed here"
	case m&fs.ModeNamedPipe != 0:
		what = "a FIFO (named pipe)"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	case m&fs.ModeDevice != 0:
		what = "a device"
	}
	return fmt.Errorf("%w: %s is %s", ErrNotRegular, path, what)
}

// ReadForeign reads a file that another user may own by design (a systemd
// credential, a file scanned for leaked keys), so no trust rule applies;
// the rest of the one rule does: never a link followed, never a block on a
// FIFO or device, a regular file only, at most max bytes (ErrTooLarge).
func ReadForeign(path string, max int64) ([]byte, error) {
	f, err := openFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, notRegular(path, fi)
	}
	if fi.Size() > max {
		return nil, fmt.Errorf("%w: %s is %d bytes, more than the %d read", ErrTooLarge, path, fi.Size(), max)
	}
	return Read(f, max)
}
