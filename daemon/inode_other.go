//go:build !unix

package daemon

import "io/fs"

func inodeOf(fs.FileInfo) uint64 { return 0 }
