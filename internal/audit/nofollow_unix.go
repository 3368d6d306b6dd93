//go:build unix

package audit

import "syscall"

// noFollow: a symlink planted at the trail's path is refused, not followed.
const noFollow = syscall.O_NOFOLLOW
