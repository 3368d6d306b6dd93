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

// SweepTemps clears up the temporary files Swap.Write leaves beside path
// when its process is killed mid-write: regular files named like its
// (".<name>.<digits>.tmp") whose last change is older than age, so a write
// still in progress is left alone. Killed before the swap, such a file holds
// the new content; killed just after it, what path held. disposable (nil:
// every one) says whether a leftover's content may go; one that may not is
// renamed "<name>.recovered-<digits>" beside path, never deleted. It returns
// how many it removed and the recovered files' paths.
func SweepTemps(path string, age time.Duration, disposable func(content []byte) bool) (int, []string, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, nil, fmt.Errorf("looking for left-over temporary files of %s: %w", path, err)
	}
	prefix := "." + base + "."
	cutoff := time.Now().Add(-age)
	removed := 0
	var kept []string
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
		p := filepath.Join(dir, name)
		if disposable != nil {
			if b, err := os.ReadFile(p); err != nil || !disposable(b) {
				to := filepath.Join(dir, base+".recovered-"+mid)
				if err := os.Rename(p, to); err != nil {
					errs = append(errs, err)
					continue
				}
				kept = append(kept, to)
				continue
			}
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	return removed, kept, errors.Join(errs...)
}
