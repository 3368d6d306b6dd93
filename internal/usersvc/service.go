package usersvc

import (
	"context"
	"fmt"
	"time"

	"github.com/torale-ai/torale-cred/ipc"
)

// Manager installs and controls torale-cred as a per-user service: a
// systemd user manager on Linux (service_systemd.go), launchd on macOS
// (service_launchd.go). Each method reports what it does, step by step,
// to Env.Did.
type Manager interface {
	Install(ctx context.Context) error
	Uninstall(ctx context.Context) error
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Status(ctx context.Context) (State, error)
}

// StepKind is what a Manager did: a closed set, each worded by the CLI
// (internal/cli/messages.go), so that one file holds every sentence the
// CLI prints and escapes the paths in them.
type StepKind int

const (
	// Both managers.

	// StepUnchanged: Path already held what install would write. (From 1:
	// a zero Step is no step.)
	StepUnchanged StepKind = iota + 1
	// StepStarted: Units started.
	StepStarted
	// StepStopped: Units stopped until the next start or login.
	StepStopped

	// systemd (service_systemd.go).

	// StepWrote: install wrote Path (the socket unit).
	StepWrote
	// StepWroteService: install wrote the service unit Path, running Exe.
	StepWroteService
	// StepReplacedService: install replaced a different service unit at
	// Path with one running Exe.
	StepReplacedService
	// StepPutBack: install failed and put Count unit files back as they
	// were.
	StepPutBack
	// StepEnabled: install enabled Units (the socket unit, then the
	// service unit), the socket listening on Socket.
	StepEnabled
	// StepNoUnits: uninstall found none of Units in the directory Path.
	StepNoUnits
	// StepRemovedUnit: uninstall stopped, disabled and removed the unit
	// file Path.
	StepRemovedUnit

	// launchd (service_launchd.go).

	// StepWroteAgent: install wrote the LaunchAgent Path, running Exe.
	StepWroteAgent
	// StepLoaded: install loaded the job Units[0] into Domain; it logs to
	// Log.
	StepLoaded
	// StepAlreadyLoaded: the job Units[0] was already loaded in Domain.
	StepAlreadyLoaded
	// StepNoAgent: uninstall found no LaunchAgent at Path.
	StepNoAgent
	// StepUnloaded: uninstall stopped and unloaded the job Units[0].
	StepUnloaded
	// StepRemovedAgent: uninstall removed the LaunchAgent Path and kept
	// the log Log.
	StepRemovedAgent
	// StepNotRunning: stop found the job Units[0] not loaded.
	StepNotRunning
)

// Step is one thing a Manager did, and the files and names it concerns;
// a field its Kind does not name is empty. Paths come from outside (the
// executable, $HOME), so whoever shows them escapes them.
type Step struct {
	Kind StepKind
	// Path is the file written, kept or removed, or the directory looked in.
	Path string
	// Exe is the torale-cred the service runs.
	Exe string
	// Units are the systemd units or the launchd job acted on, in the
	// order the Kind gives.
	Units []string
	// Socket is the daemon's socket; Domain is launchd's (gui/UID); Log is
	// the daemon's log file under launchd.
	Socket, Domain, Log string
	// Count is how many unit files were put back.
	Count int
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
