package toraleconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/torale-ai/torale-cred/internal/safefile"
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

// Load reads config.json through safefile.Open, the one safe way: the
// directory holding it and the file (a symlink's target too) must pass the
// trust rules; only a regular file is read, opened without blocking (a
// FIFO or device is refused at once, never waited on) and at most MaxSize
// bytes. An absent file (or a dangling link) is a Snapshot with Exists
// false and no error.
//
// Errors wrap trust.ErrUntrusted, safefile.ErrNotRegular, safefile.ErrTooLarge, ErrMalformed
// (unparseable content: Raw is still set) or the read error; none quotes
// the content.
func Load(path string) (Snapshot, error) {
	s := Snapshot{Path: path, Target: path}
	// Absent is absent, whatever its directory: nothing would be read.
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	f, fi, err := safefile.Open(path, safefile.Options{FollowLink: true, MaxSize: MaxSize})
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if f != nil {
		defer f.Close()
		s.Target = f.Name()
	}
	if err != nil {
		if errors.Is(err, safefile.ErrNotRegular) || errors.Is(err, safefile.ErrTooLarge) {
			s.Exists = true
			err = fmt.Errorf("%w; it is left alone", err)
		}
		return s, err
	}
	s.Exists, s.Info = true, fi
	raw, err := safefile.Read(f, MaxSize)
	if err != nil {
		if errors.Is(err, safefile.ErrTooLarge) {
			err = fmt.Errorf("%w; it is left alone", err)
		}
		return s, err
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
