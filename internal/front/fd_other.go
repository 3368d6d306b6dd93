//go:build !linux && !windows

package front

import (
	"os"

	"golang.org/x/sys/unix"
)

// inheritable is a descriptor holding data, read from its start, that
// survives exec: a pipe holding it when it fits the pipe's buffer, else an
// unlinked temporary file (0600).
func inheritable(data []byte) (int, error) {
	if len(data) <= 4096 {
		var p [2]int
		if err := unix.Pipe(p[:]); err != nil {
			return -1, err
		}
		_, err := unix.Write(p[1], data)
		unix.Close(p[1])
		if err == nil {
			_, err = unix.FcntlInt(uintptr(p[0]), unix.F_SETFD, 0)
		}
		if err != nil {
			unix.Close(p[0])
			return -1, err
		}
		return p[0], nil
	}
	f, err := os.CreateTemp("", "torale-cred-*")
	if err != nil {
		return -1, err
	}
	defer f.Close()
	_ = os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		return -1, err
	}
	fd, err := unix.Dup(int(f.Fd()))
	if err != nil {
		return -1, err
	}
	if _, err := unix.Seek(fd, 0, 0); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}
