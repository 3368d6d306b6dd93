package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

var errExchangeUnsupported = errors.New("atomic exchange unsupported")

// ErrKeptAside: two writes landed around the swap; the one in between is
// kept beside the file under a name of its own (the error names it).
var ErrKeptAside = errors.New("the file changed twice while it was replaced")

// ErrDisplacedChanged: what Swap.Write displaced was not what the caller
// read (someone wrote the file in the last instant); the file holds that
// newer content again and the caller should read it afresh.
var ErrDisplacedChanged = errors.New("the file changed at the instant it was replaced")

// Swap is one replacement of a file that another program may write at any
// instant (config.json, which the official Torale CLI writes).
type Swap struct {
	// Check runs once just before the swap (the last look); an error
	// abandons the write.
	Check func() error
	// Same reports whether the displaced file is still what the caller read.
	Same func(displaced []byte, fi os.FileInfo) bool
	// beforeSwap runs between Check and the exchange (tests write the file
	// there, as another program could).
	beforeSwap func()
}

// Write replaces path with data so that nothing written to path up to
// the instant of the replacement is lost, however close to it: the new
// content is swapped in atomically (RENAME_EXCHANGE on Linux, RENAME_SWAP
// on macOS), the displaced file is then checked with same (is it still
// what the caller read?), and when it is not, swapped back, so path again
// holds what the other program wrote, and ErrDisplacedChanged is returned.
// If the swap back finds yet another write, nothing is deleted: the
// displaced file is kept beside path as "<name>.kept-<time>" and the error
// names it.
//
// Where no atomic swap exists it checks, then renames.
func (s Swap) Write(path string, data []byte, perm os.FileMode) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	keep := false
	defer func() {
		if !keep {
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
	if s.Check != nil {
		if err := s.Check(); err != nil {
			return err
		}
	}
	if s.beforeSwap != nil {
		s.beforeSwap()
	}
	err = exchange(tmp, path)
	if errors.Is(err, errExchangeUnsupported) {
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		keep = true // renamed away: nothing left to remove
		return syncDir(filepath.Clean(dir))
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	// tmp now holds what path held at the instant of the swap.
	if displacedIs(tmp, s.Same) {
		return syncDir(filepath.Clean(dir))
	}
	// Someone wrote in the last instant: put their file back. The swap back
	// displaces whatever path holds now, which must be our own data.
	if err := exchange(tmp, path); err != nil {
		keep = true
		return fmt.Errorf("%w; swapping it back failed (%v): their version is kept at %s", ErrDisplacedChanged, err, tmp)
	}
	if back, err := os.ReadFile(tmp); err == nil && string(back) == string(data) {
		_ = syncDir(filepath.Clean(dir))
		return ErrDisplacedChanged
	}
	// A third write landed between the two swaps: keep it under a name of
	// its own rather than delete anything.
	kept := filepath.Join(dir, base+".kept-"+time.Now().UTC().Format("20060102T150405.000000000"))
	if err := os.Rename(tmp, kept); err != nil {
		kept = tmp
	}
	keep = true
	return fmt.Errorf("%w; another version is kept at %s", ErrKeptAside, kept)
}

func displacedIs(path string, same func([]byte, os.FileInfo) bool) bool {
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	b, err := os.ReadFile(path)
	return err == nil && same(b, fi)
}
