package usersvc

import (
	"context"
	"fmt"
	"time"

	"github.com/torale-ai/torale-cred/ipc"
)

// Manager installs and controls torale-cred as a per-user service: a
// systemd user manager on Linux (service_systemd.go), launchd on macOS
// (service_launchd.go). Each method prints what it did for people.
type Manager interface {
	Install(ctx context.Context) error
	Uninstall(ctx context.Context) error
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Status(ctx context.Context) (State, error)
}

// NewManager is this OS's service manager for the user in e.
func NewManager(e *Env) (Manager, error) { return newServiceManager(e) }

// State is what `service status` reports.
type State struct {
	Manager string `json:"manager"`
	// Files are the files `service install` writes, those present now.
	Files []string `json:"files"`
	Units []Unit   `json:"units"`
	// Daemon is whoever answers on the socket, the manager's or not.
	Daemon SocketDaemon `json:"daemon"`
}

// SocketDaemon is the daemon answering on the socket, if any.
type SocketDaemon struct {
	Socket    string `json:"socket"`
	Answering bool   `json:"answering"`
	PID       int    `json:"pid,omitempty"`
	Version   string `json:"version,omitempty"`
	// OutsideManager: it answers, but no unit or job of the manager is it
	// (a `torale-cred daemon` run by hand, in tmux, …).
	OutsideManager bool `json:"outside_manager"`
}

// DaemonOnSocket asks the socket who serves it.
func (e *Env) DaemonOnSocket(ctx context.Context, units []Unit) SocketDaemon {
	sock, err := e.socketPath()
	if err != nil {
		return SocketDaemon{}
	}
	d := SocketDaemon{Socket: sock}
	c := ipc.NewClient(sock, 2*time.Second)
	defer c.Close()
	h, err := c.Info(ctx)
	if err != nil {
		return d
	}
	d.Answering, d.PID, d.Version = true, h.PID, h.Version
	d.OutsideManager = true
	for _, u := range units {
		if u.PID != 0 && u.PID == h.PID {
			d.OutsideManager = false
		}
	}
	return d
}

// Unit is one unit (systemd) or job (launchd).
type Unit struct {
	Name string `json:"name"`
	// Active is the manager's word: "active", "inactive", "failed", "running", "not-found", ...
	Active string `json:"active"`
	// Enabled is "enabled", "disabled", "static", ... (systemd), "loaded"/"not loaded" (launchd).
	Enabled string `json:"enabled"`
	PID     int    `json:"pid,omitempty"`
}

// noServiceManagerError: nothing to install into. One sentence with the way
// out (exit 1).
type noServiceManagerError struct {
	action  string // "install", "start", ...
	manager string // "systemd user manager", "launchd GUI session"
	detail  string // what the probe said
}

func (e *noServiceManagerError) Error() string {
	d := ""
	if e.detail != "" {
		d = " (" + e.detail + ")"
	}
	return fmt.Sprintf("cannot %s the service: no %s is reachable here%s; run the daemon yourself instead, in a terminal, tmux or your login script: torale-cred daemon",
		e.action, e.manager, d)
}
