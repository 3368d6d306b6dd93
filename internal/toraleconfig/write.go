package toraleconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/torale-ai/torale-cred/internal/atomicfile"
)

// ErrChanged: config.json is no longer what was read (the official CLI,
// an editor, a sync wrote it meanwhile), so nothing was written over it;
// read it again and start over.
var ErrChanged = errors.New("config.json changed while it was being rewritten")

// Rewrite replaces snap's file (its Target: a symlink stays a symlink)
// with b atomically, only if it still holds what snap read (ErrChanged
// otherwise), keeping its mode (at most 0600). The swap undoes itself when
// another writer got in at the last instant, so what that writer wrote is
// never lost.
func Rewrite(snap Snapshot, b []byte) error {
	perm := snap.Info.Mode().Perm() & 0o600
	if perm&0o400 == 0 {
		perm = 0o600
	}
	swap := atomicfile.Swap{
		Check: func() error { return unchanged(snap) },
		Same:  func(raw []byte, fi os.FileInfo) bool { return bytes.Equal(raw, snap.Raw) && os.SameFile(fi, snap.Info) },
	}
	err := swap.Write(snap.Target, b, perm)
	if errors.Is(err, atomicfile.ErrDisplacedChanged) {
		return ErrChanged
	}
	return err
}

// unchanged is the last look before the rename: the link still points at
// the same target, which is still the file read, with the same bytes.
func unchanged(snap Snapshot) error {
	if snap.Path != snap.Target {
		if t, err := filepath.EvalSymlinks(snap.Path); err != nil || t != snap.Target {
			return ErrChanged
		}
	}
	fi, err := os.Lstat(snap.Target)
	if err != nil || !os.SameFile(fi, snap.Info) || fi.Size() != snap.Info.Size() ||
		!fi.ModTime().Equal(snap.Info.ModTime()) || fi.Mode() != snap.Info.Mode() {
		return ErrChanged
	}
	raw, err := os.ReadFile(snap.Target)
	if err != nil || !bytes.Equal(raw, snap.Raw) {
		return ErrChanged
	}
	return nil
}

// Create writes a new config.json (0600; ~/.torale made 0700) in one step
// that never replaces a file that appeared meanwhile (ErrChanged): a
// synced temporary file hard-linked into place.
func Create(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, werr := f.Write(b)
	cherr := f.Chmod(0o600)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, cherr, serr, cerr); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return ErrChanged
		}
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
