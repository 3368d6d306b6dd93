//go:build unix

package trust

import (
	"io/fs"
	"syscall"
)

// Owner is the user id owning the file fi describes (false where the
// platform has no such id).
func Owner(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

// writableByOthers: group or other write, except on a symlink, whose mode
// bits are meaningless (its target is checked instead).
func writableByOthers(fi fs.FileInfo) bool {
	return fi.Mode()&fs.ModeSymlink == 0 && fi.Mode().Perm()&0o022 != 0
}
