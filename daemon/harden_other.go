//go:build !linux && !darwin

package daemon

// harden has nothing to do where the daemon cannot run (ipc.Listen refuses).
func harden() []error { return nil }
