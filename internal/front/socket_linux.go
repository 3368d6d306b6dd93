package front

import "golang.org/x/sys/unix"

// socket is a Unix stream socket that is not inherited across exec (the
// front may exec the full CLI while it holds one).
func socket() (int, error) {
	return unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
}
