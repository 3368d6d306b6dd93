//go:build !unix

package trust

import "io/fs"

// Windows keeps a profile's files private through ACLs, which these mode
// bits do not describe: nothing to check here.
// Owner: no user id on this platform.
func Owner(fs.FileInfo) (int, bool)     { return 0, false }
func writableByOthers(fs.FileInfo) bool { return false }
