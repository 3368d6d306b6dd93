//go:build !linux

package remote

import "errors"

var errUnsupported = errors.New("remote sessions are not supported on this system")

// supported: the daemon cannot watch the ssh client here yet.
const supported = false

type procWatch struct{ exited chan struct{} }

func watchProcess(int) (*procWatch, error) { return nil, errUnsupported }

func (*procWatch) close() {}

type procState int

const (
	procPending procState = iota
	procSSH
	procOther
)

func (*procWatch) state([]string) procState { return procOther }
