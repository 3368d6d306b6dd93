//go:build linux || darwin

package peercred

import (
	"fmt"
	"syscall"
)

// Of is the user id and process id of the process at the other end of a
// Unix socket connection c (a syscall.Conn, such as *net.UnixConn), as at
// connect time.
func Of(c any) (uid uint32, pid int, err error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, 0, fmt.Errorf("a %T is not a Unix socket connection", c)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	if cerr := rc.Control(func(fd uintptr) { uid, pid, err = OfFD(int(fd)) }); cerr != nil {
		return 0, 0, cerr
	}
	return uid, pid, err
}
