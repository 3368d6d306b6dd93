//go:build unix

package toraleconfig

import (
	"os"
	"syscall"
)

// openNonBlocking: O_NONBLOCK so a FIFO swapped in after any check cannot
// hang the open; O_NOCTTY so a terminal device never becomes ours.
func openNonBlocking(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
}
