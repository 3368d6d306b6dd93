//go:build unix

package safefile

import (
	"io/fs"
	"os"
	"syscall"
)

// openFile: O_NONBLOCK so a FIFO swapped in after any check cannot hang
// the open (the fstat after it refuses the FIFO); O_NOFOLLOW so a link
// swapped in is refused, not followed (a followed link was resolved
// before); O_NOCTTY so a terminal device never becomes ours.
func openFile(path string, flag int, perm fs.FileMode) (*os.File, error) {
	return os.OpenFile(path, flag|syscall.O_NONBLOCK|syscall.O_NOFOLLOW|syscall.O_NOCTTY, perm)
}
