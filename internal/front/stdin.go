//go:build !windows

package front

import "golang.org/x/sys/unix"

// stdinFrom makes data the process's standard input, for the program it
// execs next.
func stdinFrom(data []byte) error {
	fd, err := inheritable(data)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Dup2(fd, 0)
}
