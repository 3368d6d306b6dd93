//go:build !linux && !darwin

package harden

// NoDump has no equivalent here: the daemon does not run on these systems
// (ipc.Listen refuses), and a command's process stays as it is.
func NoDump() error { return nil }

func noCore() error { return nil }
