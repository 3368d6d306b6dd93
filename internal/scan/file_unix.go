//go:build unix

package scan

import (
	"io/fs"
	"os"
	"syscall"
)

// fileID names a file by device and inode, so a file or directory reached
// twice (two roots, a bind mount, a hard link) is read once.
type fileID struct {
	dev, ino uint64
	path     string
}

func idOf(fi fs.FileInfo, path string) fileID {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)}
	}
	return fileID{path: path}
}

// openNoFollow: O_NOFOLLOW so a link swapped in is refused, O_NONBLOCK so
// a FIFO never hangs the scan (the fstat after it refuses the FIFO).
func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
}
