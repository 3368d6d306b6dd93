//go:build darwin

package daemon

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// harden keeps debuggers and core dumps away from the keys in memory, as
// ssh-agent does: ptrace(PT_DENY_ATTACH) and a core size of 0.
func harden() []error {
	var errs []error
	if err := unix.PtraceDenyAttach(); err != nil {
		errs = append(errs, fmt.Errorf("ptrace(PT_DENY_ATTACH): %w", err))
	}
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		errs = append(errs, fmt.Errorf("setrlimit(RLIMIT_CORE, 0): %w", err))
	}
	return errs
}
