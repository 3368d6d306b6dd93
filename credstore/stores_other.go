//go:build !unix

package credstore

const syscallNoFollowNonblock = 0
