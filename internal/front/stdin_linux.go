package front

import "golang.org/x/sys/unix"

// stdinFrom makes data the process's standard input (for the program it
// execs next): a memfd, so git's request never touches a disk.
func stdinFrom(data []byte) error {
	fd, err := unix.MemfdCreate("git-credential-torale", 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for b := data; len(b) > 0; {
		n, err := unix.Write(fd, b)
		if err != nil {
			return err
		}
		b = b[n:]
	}
	if _, err := unix.Seek(fd, 0, 0); err != nil {
		return err
	}
	return unix.Dup2(fd, 0)
}
