package toraleconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/torale-ai/torale-cred/internal/trust"
)

// Why config.json contributes nothing, beyond ErrMalformed. Each is wrapped
// with the path and the fix.
var (
	ErrNotRegular = errors.New("config.json is not a regular file")
	ErrTooLarge   = errors.New("config.json is too large")
)

// Snapshot is config.json as read once: what it says, the exact bytes (a
// rewrite starts from them) and the file they came from.
type Snapshot struct {
	// Path is config.json as configured; Target is the file read (they
	// differ when Path is a symlink).
	Path, Target string
	// Exists is false when there is no file (nothing to read, no error).
	Exists bool
	Raw    []byte
	Info   fs.FileInfo
	Config Config
}

// Load reads config.json the one safe way: the directory holding it and the
// file (a symlink's target too) must pass the trust rules; only a regular
// file is read, opened without blocking (a FIFO or device is refused at
// once, never waited on) and at most MaxSize bytes. An absent file is a
// Snapshot with Exists false and no error.
//
// Errors wrap trust.ErrUntrusted, ErrNotRegular, ErrTooLarge, ErrMalformed
// (unparseable content: Raw is still set) or the read error; none quotes
// the content.
func Load(path string) (Snapshot, error) {
	s := Snapshot{Path: path, Target: path}
	li, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	if err := trust.Dir(filepath.Dir(path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return s, err
	}
	if li.Mode()&fs.ModeSymlink != 0 {
		if err := trust.Info(path, li); err != nil {
			return s, err
		}
		t, err := filepath.EvalSymlinks(path)
		if errors.Is(err, fs.ErrNotExist) {
			return s, nil // a dangling link holds nothing
		}
		if err != nil {
			return s, err
		}
		s.Target = t
		if err := trust.Dir(filepath.Dir(t)); err != nil {
			return s, err
		}
	}
	f, err := openNonBlocking(s.Target)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return s, err
	}
	s.Exists, s.Info = true, fi
	if !fi.Mode().IsRegular() {
		what := "not a regular file"
		if fi.IsDir() {
			what = "a directory"
		}
		return s, fmt.Errorf("%w: %s is %s; it is left alone", ErrNotRegular, s.Target, what)
	}
	if err := trust.Info(s.Target, fi); err != nil {
		return s, err
	}
	if fi.Size() > MaxSize {
		return s, fmt.Errorf("%w: %s is %d bytes, larger than the %d a Torale config can be; it is left alone", ErrTooLarge, s.Target, fi.Size(), MaxSize)
	}
	raw, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return s, err
	}
	if len(raw) > MaxSize {
		return s, fmt.Errorf("%w: %s grew past %d bytes while read; it is left alone", ErrTooLarge, s.Target, MaxSize)
	}
	s.Raw = raw
	if s.Empty() {
		return s, nil // being written, or cleared: no key, not malformed
	}
	s.Config, err = Parse(raw)
	return s, err
}

// Empty reports whether the file holds only white space (or nothing).
func (s Snapshot) Empty() bool { return s.Exists && len(bytes.TrimSpace(s.Raw)) == 0 }
