//go:build linux

package peercred

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// OfFD is the user id and process id of the process at the other end of
// the Unix socket fd, from SO_PEERCRED (as at connect time).
func OfFD(fd int) (uid uint32, pid int, err error) {
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return 0, 0, fmt.Errorf("SO_PEERCRED: %w", err)
	}
	return cred.Uid, int(cred.Pid), nil
}
