//go:build !linux && !darwin

package peer

// identify learns nothing more than the pid and uid on this OS.
func identify(*Caller, *Identifier) {}

// exeAndParent cannot be read on this OS.
func exeAndParent(int) (string, int, bool) { return "", 0, false }

// exeOfPID cannot be read on this OS.
func exeOfPID(int) (string, bool) { return "", false }
