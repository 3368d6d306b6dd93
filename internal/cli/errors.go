package cli

import (
	"errors"
	"fmt"
	"os/exec"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
)

// Exit codes fixed by SPEC.md.
const (
	ExitOK          = 0
	ExitFailure     = 1
	ExitUsage       = 2
	ExitNoKey       = 3
	ExitKeychain    = 4
	ExitCannotRun   = 126 // exec: the command is found but cannot be run, as a shell reports it
	ExitNotFoundCmd = 127
	ExitInterrupted = 130 // 128 + SIGINT, as a shell reports Ctrl-C
)

// errUsage marks a usage error (exit 2).
var errUsage = errors.New("usage")

// usageErrorf is a usage error with its sentence.
func usageErrorf(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, a...))
}

// ExitCodeError carries an exit code whose reason is already on the screen:
// a child's status through `exec`, a failure a command reported itself
// (doctor's checks, scan's keys left), or through reported the table's
// code for an error the command printed in its own words. Nothing more is
// printed for it.
type ExitCodeError struct{ Code int }

func (e *ExitCodeError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// reported is err's exit code for an error the command already printed.
func reported(err error) error {
	if err == nil {
		return nil
	}
	return &ExitCodeError{Code: exitCode(err)}
}

// exitCode decides the process's exit status from an error, in one place.
func exitCode(err error) int {
	var ec *ExitCodeError
	var cr *cannotRunError
	var ee *exec.Error
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ec):
		return ec.Code
	case errors.Is(err, errInterrupted):
		return ExitInterrupted
	case errors.As(err, &cr):
		return ExitCannotRun
	case errors.As(err, &ee):
		return ExitNotFoundCmd
	case errors.Is(err, errUsage), errors.Is(err, credstore.ErrBadProfile):
		return ExitUsage
	case errors.Is(err, storeerr.ErrKeychain):
		return ExitKeychain
	case errors.Is(err, storeerr.ErrNotFound):
		return ExitNoKey
	}
	return ExitFailure
}
