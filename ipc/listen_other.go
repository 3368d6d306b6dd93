//go:build !unix

package ipc

import (
	"errors"
	"net"
	"runtime"
)

// ErrAlreadyRunning: another daemon answers on the socket.
var ErrAlreadyRunning = errors.New("a torale-cred daemon is already running on this socket")

// ErrUnsafeDir is wrapped when the socket's directory could let another
// user near the socket.
var ErrUnsafeDir = errors.New("the socket's directory is not private")

// Listen refuses: without peer credentials the socket cannot be private.
func Listen(string) (net.Listener, error) {
	return nil, errors.New("the torale-cred daemon is not supported on " + runtime.GOOS + ": its socket could not check who connects")
}

// CheckDir refuses on this system.
func CheckDir(string) error { return ErrUnsafeDir }
