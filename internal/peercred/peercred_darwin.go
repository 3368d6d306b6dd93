//go:build darwin

package peercred

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// Of is the user id (LOCAL_PEERCRED, as getpeereid) and process id
// (LOCAL_PEERPID) of the process at the other end of a Unix socket.
func Of(c net.Conn) (uid uint32, pid int, err error) {
	err = control(c, func(fd uintptr) error {
		cred, err := unix.GetsockoptXucred(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
		if err != nil {
			return fmt.Errorf("LOCAL_PEERCRED: %w", err)
		}
		uid = cred.Uid
		// The pid only names the caller in the audit trail; without it
		// the caller is still checked by uid.
		if p, err := unix.GetsockoptInt(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERPID); err == nil {
			pid = p
		}
		return nil
	})
	return uid, pid, err
}
