//go:build linux

package harden

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// NoDump makes this process not dumpable: no ptrace, no /proc/PID/mem, no
// core, for the user's other processes. Unlike a core size of 0, it is not
// passed on: a program this process starts is dumpable again once it is
// executed, so exec's command keeps its own debugging and cores.
func NoDump() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_DUMPABLE, 0): %w", err)
	}
	return nil
}

// Dumpable reports PR_GET_DUMPABLE, for tests and doctor.
func Dumpable() (bool, error) {
	d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	return d != 0, err
}

// noCore sets the core size to 0, soft and hard: inherited by every
// child, so only for a process that starts none of the user's programs.
func noCore() error {
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		return fmt.Errorf("setrlimit(RLIMIT_CORE, 0): %w", err)
	}
	return nil
}
