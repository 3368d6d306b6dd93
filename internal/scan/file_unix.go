//go:build unix

package scan

import (
	"io/fs"
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
