//go:build !linux && !windows

package front

import (
	"os"

	"golang.org/x/sys/unix"
)

// stdinFrom makes data the process's standard input (for the program it
// execs next): a pipe holding it when it fits the pipe's buffer, else an
// unlinked temporary file (0600).
func stdinFrom(data []byte) error {
	if len(data) <= 4096 {
		var p [2]int
		if err := unix.Pipe(p[:]); err != nil {
			return err
		}
		defer unix.Close(p[0])
		if _, err := unix.Write(p[1], data); err != nil {
			unix.Close(p[1])
			return err
		}
		unix.Close(p[1])
		return unix.Dup2(p[0], 0)
	}
	f, err := os.CreateTemp("", "git-credential-torale-*")
	if err != nil {
		return err
	}
	defer f.Close()
	_ = os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		return err
	}
	if _, err := f.Seek(0, 0); err != nil {
		return err
	}
	return unix.Dup2(int(f.Fd()), 0)
}
