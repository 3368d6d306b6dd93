//go:build !unix

package scan

import (
	"io/fs"
	"os"
	"path/filepath"
)

type fileID struct{ path string }

func idOf(_ fs.FileInfo, path string) fileID {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return fileID{path: path}
}

func openNoFollow(path string) (*os.File, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrInvalid}
	}
	return os.Open(path)
}
