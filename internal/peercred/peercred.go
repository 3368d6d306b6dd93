// Package peercred learns who is at the other end of a Unix socket: the
// peer's user id and process id, from the kernel (SO_PEERCRED,
// LOCAL_PEERCRED), and checks that it is this same user. The daemon's
// server and its client (ipc) check peers here; it never reads or writes a
// byte of the connection.
package peercred

import (
	"fmt"
	"os"
)

// It takes a connection as any value with a descriptor (syscall.Conn: a
// *net.UnixConn).

// CheckSelf fails unless the process serving c (at path, for the message)
// runs as this process's user: a key is never handed to, or asked of,
// another user's process.
func CheckSelf(c any, path string) error {
	uid, _, err := Of(c)
	return checkUID(uid, err, path)
}

func checkUID(uid uint32, err error, path string) error {
	if err != nil {
		return fmt.Errorf("checking who serves %s: %w", path, err)
	}
	if me := uint32(os.Getuid()); uid != me {
		return fmt.Errorf("%s is served by user id %d, not by you (%d); refusing to talk to it", path, uid, me)
	}
	return nil
}
