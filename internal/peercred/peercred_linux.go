//go:build linux

package peercred

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// Of is the user id and process id of the process at the other end
// of a Unix socket connection, from SO_PEERCRED (as at connect time).
func Of(c net.Conn) (uid uint32, pid int, err error) {
	err = control(c, func(fd uintptr) error {
		cred, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		if err != nil {
			return fmt.Errorf("SO_PEERCRED: %w", err)
		}
		uid, pid = cred.Uid, int(cred.Pid)
		return nil
	})
	return uid, pid, err
}
