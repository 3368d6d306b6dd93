//go:build !unix

package scan

import (
	"io/fs"
	"path/filepath"
)

type fileID struct{ path string }

func idOf(_ fs.FileInfo, path string) fileID {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return fileID{path: path}
}
