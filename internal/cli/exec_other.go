//go:build !unix

package cli

import (
	"os"
	"strings"
)

// forwardedSignals: Windows has only Ctrl-C, which the console already
// delivers to the command; catching it keeps torale-cred alive until the
// command exits.
var forwardedSignals = []os.Signal{os.Interrupt}

// shouldForward: the console delivered the interrupt to the command
// already, and Windows cannot send it to a process anyway.
func shouldForward(os.Signal) bool { return false }

// exitStatus is the command's exit code.
func exitStatus(ps *os.ProcessState) int { return ps.ExitCode() }

// envNameIs compares environment variable names, which Windows treats
// without regard to case.
func envNameIs(a, b string) bool { return strings.EqualFold(a, b) }
