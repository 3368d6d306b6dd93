//go:build darwin

package atomicfile

import "golang.org/x/sys/unix"

// exchange swaps the files at a and b atomically (renamex_np RENAME_SWAP).
func exchange(a, b string) error {
	err := unix.RenamexNp(a, b, unix.RENAME_SWAP)
	if err == unix.EINVAL || err == unix.ENOTSUP {
		return errExchangeUnsupported
	}
	return err
}
