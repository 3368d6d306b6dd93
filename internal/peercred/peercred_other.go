//go:build !linux && !darwin

package peercred

import (
	"errors"
	"runtime"
)

var errUnsupported = errors.New("peer credentials are not supported on " + runtime.GOOS)

// Of cannot learn a peer's user id on this system, so every
// connection is refused: the check fails closed.
func Of(any) (uint32, int, error) { return 0, 0, errUnsupported }

// OfFD fails closed as Of does.
func OfFD(int) (uint32, int, error) { return 0, 0, errUnsupported }
