//go:build darwin

package ipc

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// PeerUID is the effective user id of the process at the other end of a
// Unix socket connection: LOCAL_PEERCRED, what getpeereid(3) reads.
func PeerUID(c net.Conn) (uint32, error) {
	var uid uint32
	err := control(c, func(fd uintptr) error {
		cred, err := unix.GetsockoptXucred(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
		if err != nil {
			return fmt.Errorf("LOCAL_PEERCRED: %w", err)
		}
		uid = cred.Uid
		return nil
	})
	return uid, err
}
