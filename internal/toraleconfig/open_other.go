//go:build !unix

package toraleconfig

import "os"

// Windows has no FIFOs to block an open on a file path.
func openNonBlocking(path string) (*os.File, error) { return os.Open(path) }
