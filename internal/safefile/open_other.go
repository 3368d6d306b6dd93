//go:build !unix

package safefile

import (
	"io/fs"
	"os"
)

// openFile: Windows has no FIFO to block an open on a file path, and a
// link at the path was refused or resolved by Open's Lstat before.
func openFile(path string, flag int, perm fs.FileMode) (*os.File, error) {
	return os.OpenFile(path, flag, perm)
}
