// Package usersvc installs and controls torale-cred as a per-user service
// under a systemd user manager or launchd, written through
// github.com/kardianos/service. `torale-cred service …` (internal/cli)
// parses the command line and prints; this package does the work and
// reports each step it takes as a Step, which the CLI words. It never
// reads the keychain and never runs the daemon itself.
package usersvc

import "github.com/torale-ai/torale-cred/internal/paths"

// Env is what the service commands take from the process.
type Env struct {
	Getenv func(string) string
	// SocketPath is --socket (shown by install).
	SocketPath string
	// Did is told each step as it is done; nil: nothing is said.
	Did func(Step)
}

// did reports s to Did, if anyone listens.
func (e *Env) did(s Step) {
	if e.Did != nil {
		e.Did(s)
	}
}

// socketPath is the daemon's socket: --socket, TORALE_CRED_SOCKET, the default.
func (e *Env) socketPath() (string, error) {
	if e.SocketPath != "" {
		return e.SocketPath, nil
	}
	return paths.Socket(e.Getenv)
}
