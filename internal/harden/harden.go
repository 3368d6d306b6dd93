// Package harden keeps the keys in a process's memory away from the user's
// other processes, as ssh-agent does: no debugger may attach and no core
// dump is written. It changes only the calling process's own attributes
// and never reads anything.
package harden

// Process hardens a process that holds keys and runs no program of the
// user's (the daemon): NoDump, and a core size of 0. It returns what could
// not be done; the process runs on regardless.
func Process() []error {
	var errs []error
	if err := NoDump(); err != nil {
		errs = append(errs, err)
	}
	if err := noCore(); err != nil {
		errs = append(errs, err)
	}
	return errs
}
