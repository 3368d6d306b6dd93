//go:build linux

package atomicfile

import "golang.org/x/sys/unix"

// exchange swaps the files at a and b atomically (renameat2
// RENAME_EXCHANGE, Linux 3.15); errExchangeUnsupported where the file
// system cannot.
func exchange(a, b string) error {
	err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
	if err == unix.EINVAL || err == unix.ENOSYS || err == unix.EOPNOTSUPP {
		return errExchangeUnsupported
	}
	return err
}
