//go:build linux || darwin

package peercred

import (
	"fmt"
	"net"
	"syscall"
)

// control runs fn on a Unix connection's descriptor.
func control(c net.Conn, fn func(fd uintptr) error) error {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return fmt.Errorf("a %T is not a Unix socket connection", c)
	}
	var sc syscall.Conn = uc
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(fd) }); err != nil {
		return err
	}
	return ferr
}
