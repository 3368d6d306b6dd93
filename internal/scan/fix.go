package scan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/internal/atomicfile"
)

// Fixer rewrites .env files to the local endpoint: TORALE_API_KEY becomes
// the profile's local token and TORALE_API_URL the endpoint's URL.
type Fixer struct {
	// Store puts key into the keychain and reads it back (the Store's Put,
	// which keeps a key it displaces): done before the file changes.
	Store func(ctx context.Context, key string) error
	// Token and URL are what the file gets: the profile's local token and
	// the endpoint's URL.
	Token, URL string
	// SameURL reports whether a TORALE_API_URL a file names is the
	// profile's own URL, where the endpoint forwards.
	SameURL func(string) bool
	// Now names backups (nil: time.Now).
	Now func() time.Time
	// beforeSwap runs just before the rewrite (tests).
	beforeSwap func()
}

// Fixed is one file rewritten.
type Fixed struct {
	Path    string `json:"path"`
	KeyHint string `json:"key_hint"`
	// Backup holds the file as it was, key included (0600): delete it once
	// the program works through the endpoint.
	Backup string `json:"backup"`
}

// ErrChanged: the file changed while it was rewritten; it holds what the
// other program wrote, and the scan should be run again.
var ErrChanged = errors.New("the file changed while torale-cred rewrote it; run the scan again")

// FixFile moves key out of the .env file at path, in the order that leaves
// the key in at least one place whatever instant the process dies: read
// the file and prepare the new content (nothing happens if the file cannot
// take the endpoint), store the key in the keychain and read it back,
// write the backup beside the file (0600, synced), then replace the file
// atomically, keeping its mode, only if it still holds what was read.
func (fx Fixer) FixFile(ctx context.Context, path, key string) (Fixed, error) {
	res := Fixed{Path: path}
	li, err := os.Lstat(path)
	if err != nil {
		return res, fmt.Errorf("reading %s: %w", path, err)
	}
	if !li.Mode().IsRegular() {
		return res, fmt.Errorf("%w: %s is not a regular file (a link is left to its target's own scan)", ErrNotRewritable, path)
	}
	raw, err := ReadBounded(path, DefaultMaxSize)
	if err != nil {
		return res, err
	}
	sameURL := fx.SameURL
	if sameURL == nil {
		sameURL = func(string) bool { return false }
	}
	out, err := RewriteEnv(raw, key, fx.Token, fx.URL, sameURL)
	if err != nil {
		return res, err
	}
	if bytes.Contains(out, []byte(key)) {
		return res, fmt.Errorf("%w: the key appears on another line too; take it out by hand", ErrNotRewritable)
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if err := fx.Store(ctx, key); err != nil {
		return res, err
	}
	now := time.Now
	if fx.Now != nil {
		now = fx.Now
	}
	res.KeyHint = apikey.Hint(key)
	if res.Backup, err = writeBackup(path, raw, now()); err != nil {
		return res, fmt.Errorf("the key is in the keychain, and %s still holds it: writing the backup failed, so the file was not rewritten: %w", path, err)
	}
	if fx.beforeSwap != nil {
		fx.beforeSwap()
	}
	swap := atomicfile.Swap{
		Check: func() error { return unchanged(path, li, raw) },
		Same:  func(b []byte, fi os.FileInfo) bool { return bytes.Equal(b, raw) && os.SameFile(fi, li) },
	}
	perm := li.Mode().Perm()
	if err := swap.Write(path, out, perm); err != nil {
		if errors.Is(err, atomicfile.ErrDisplacedChanged) || errors.Is(err, ErrChanged) {
			// Not rewritten: the file holds what it held, or what another
			// program wrote; the keychain holds the key.
			_ = os.Remove(res.Backup)
			res.Backup = ""
			return res, fmt.Errorf("the key is in the keychain; %s: %w", path, ErrChanged)
		}
		return res, fmt.Errorf("the key is in the keychain, and the backup %s holds the file as it was: rewriting %s failed: %w", res.Backup, path, err)
	}
	return res, nil
}

// unchanged is the last look before the swap: the same file, the same bytes.
func unchanged(path string, was fs.FileInfo, raw []byte) error {
	fi, err := os.Lstat(path)
	if err != nil || !os.SameFile(fi, was) || fi.Size() != was.Size() || !fi.ModTime().Equal(was.ModTime()) {
		return ErrChanged
	}
	b, err := ReadBounded(path, DefaultMaxSize)
	if err != nil || !bytes.Equal(b, raw) {
		return ErrChanged
	}
	return nil
}

// writeBackup writes raw beside path as "<name>.torale-cred-backup-<time>",
// 0600 whatever the umask, created (never overwriting anything), synced
// with its directory before the caller rewrites path.
func writeBackup(path string, raw []byte, now time.Time) (string, error) {
	name := path + BackupInfix + now.UTC().Format("20060102T150405Z")
	var f *os.File
	var err error
	for i := 0; i < 100; i++ {
		p := name
		if i > 0 {
			p = fmt.Sprintf("%s.%d", name, i)
		}
		f, err = os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			name = p
			break
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
	}
	if err != nil {
		return "", err
	}
	_, werr := f.Write(raw)
	cherr := f.Chmod(0o600)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, cherr, serr, cerr); err != nil {
		_ = os.Remove(name)
		return "", err
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return name, err
	}
	return name, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	return nil
}
