//go:build linux

package ipc

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// PeerUID is the user id of the process at the other end of a Unix socket
// connection, from SO_PEERCRED (the credentials at connect time).
func PeerUID(c net.Conn) (uint32, error) {
	var uid uint32
	err := control(c, func(fd uintptr) error {
		cred, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		if err != nil {
			return fmt.Errorf("SO_PEERCRED: %w", err)
		}
		uid = cred.Uid
		return nil
	})
	return uid, err
}
