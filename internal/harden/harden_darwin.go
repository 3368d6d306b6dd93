//go:build darwin

package harden

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// NoDump denies debuggers this process: ptrace(PT_DENY_ATTACH). (macOS
// writes no core unless the core size was raised, and noCore keeps it 0.)
func NoDump() error {
	if err := unix.PtraceDenyAttach(); err != nil {
		return fmt.Errorf("ptrace(PT_DENY_ATTACH): %w", err)
	}
	return nil
}

// noCore sets the core size to 0, soft and hard: inherited by every
// child, so only for a process that starts none of the user's programs.
func noCore() error {
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		return fmt.Errorf("setrlimit(RLIMIT_CORE, 0): %w", err)
	}
	return nil
}
