//go:build linux

package daemon

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// harden keeps the keys in this process's memory away from other
// processes of the same user, as ssh-agent does: not dumpable (no ptrace,
// no /proc/PID/mem, no core) and a core size of 0.
func harden() []error {
	var errs []error
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		errs = append(errs, fmt.Errorf("prctl(PR_SET_DUMPABLE, 0): %w", err))
	}
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		errs = append(errs, fmt.Errorf("setrlimit(RLIMIT_CORE, 0): %w", err))
	}
	return errs
}
