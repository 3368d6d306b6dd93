//go:build !linux && !windows

package front

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// socket is a Unix stream socket that is not inherited across exec (the
// front may exec the full CLI while it holds one). Without SOCK_CLOEXEC the
// flag is set under ForkLock, as the standard library does.
func socket() (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	return fd, err
}
