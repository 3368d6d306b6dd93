//go:build darwin

package peercred

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// OfFD is the user id (LOCAL_PEERCRED, as getpeereid) and process id
// (LOCAL_PEERPID) of the process at the other end of the Unix socket fd.
func OfFD(fd int) (uid uint32, pid int, err error) {
	cred, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return 0, 0, fmt.Errorf("LOCAL_PEERCRED: %w", err)
	}
	// The pid only names the caller in the audit trail; without it the
	// caller is still checked by uid.
	if p, err := unix.GetsockoptInt(fd, unix.SOL_LOCAL, unix.LOCAL_PEERPID); err == nil {
		pid = p
	}
	return cred.Uid, pid, nil
}
