package usersvc

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/torale-ai/torale-cred/ipc"
)

// serviceManager installs and controls torale-cred as a per-user service:
// a systemd user manager on Linux (service_systemd.go), launchd on macOS
// (service_launchd.go). Each method prints what it did for people.
type serviceManager interface {
	Install(ctx context.Context) error
	Uninstall(ctx context.Context) error
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Status(ctx context.Context) (serviceState, error)
}

// serviceState is what `service status` reports.
type serviceState struct {
	Manager string `json:"manager"`
	// Files are the files `service install` writes, those present now.
	Files []string    `json:"files"`
	Units []unitState `json:"units"`
	// Daemon is whoever answers on the socket, the manager's or not.
	Daemon socketDaemon `json:"daemon"`
}

// socketDaemon is the daemon answering on the socket, if any.
type socketDaemon struct {
	Socket    string `json:"socket"`
	Answering bool   `json:"answering"`
	PID       int    `json:"pid,omitempty"`
	Version   string `json:"version,omitempty"`
	// OutsideManager: it answers, but no unit or job of the manager is it
	// (a `torale-cred daemon` run by hand, in tmux, …).
	OutsideManager bool `json:"outside_manager"`
}

// daemonOnSocket asks the socket who serves it.
func (e *Env) daemonOnSocket(ctx context.Context, units []unitState) socketDaemon {
	sock, err := e.socketPath()
	if err != nil {
		return socketDaemon{}
	}
	d := socketDaemon{Socket: sock}
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

// unitState is one unit (systemd) or job (launchd).
type unitState struct {
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

func newServiceCmd(f *Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "service",
		Short: "Install, start, stop or remove the per-user service (systemd, launchd)",
		Long: `Runs 'torale-cred daemon' as a per-user service, inside your login session
so it can reach the keychain.

Linux: writes torale-cred.service and torale-cred.socket (the same files the
packages ship, ExecStart pointing at this binary) to ~/.config/systemd/user,
enables both and starts the socket: the daemon starts on the first look-up
and at login. macOS: writes ~/Library/LaunchAgents/ai.torale.cred.plist and
loads it with launchctl bootstrap. Without a service manager (a container,
no 'systemd --user'), run 'torale-cred daemon' yourself.`,
		Example: `  torale-cred service install
  torale-cred service status
  torale-cred service uninstall`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageErrorf("service needs a subcommand: install, uninstall, start, stop or status")
		},
	}
	run := func(use, short, long string, do func(serviceManager, context.Context) error) *cobra.Command {
		return &cobra.Command{
			Use: use, Short: short, Long: long, Args: noArgs,
			RunE: func(c *cobra.Command, _ []string) error {
				m, err := newServiceManager(f)
				if err != nil {
					return err
				}
				return do(m, c.Context())
			},
		}
	}
	var asJSON bool
	status := run("status", "Show whether the service is installed, enabled and running", "",
		func(m serviceManager, ctx context.Context) error {
			st, err := m.Status(ctx)
			if err != nil {
				return err
			}
			st.Daemon = f.daemonOnSocket(ctx, st.Units)
			if asJSON {
				return writeJSON(f.Out, st)
			}
			return printServiceState(f, st)
		})
	status.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	cmd.AddCommand(
		run("install", "Install and enable the per-user service",
			"Installs the service for this user and enables it; running it again updates\nthe files and changes nothing else. Prints what it did.",
			serviceManager.Install),
		run("uninstall", "Stop the service and remove exactly what install wrote", "", serviceManager.Uninstall),
		run("start", "Start the service now", "", serviceManager.Start),
		run("stop", "Stop the service until the next start or login", "", serviceManager.Stop),
		status,
	)
	return cmd
}

// noArgs is cobra.NoArgs as a usage error (exit 2).
func noArgs(cmd *cobra.Command, args []string) error {
	if err := cobra.NoArgs(cmd, args); err != nil {
		return usageErrorf("%s", err)
	}
	return nil
}

func printServiceState(f *Env, st serviceState) error {
	var b strings.Builder
	fmt.Fprintf(&b, "manager: %s\n", st.Manager)
	for _, u := range st.Units {
		fmt.Fprintf(&b, "%s: %s, %s", u.Name, u.Active, u.Enabled)
		if u.PID > 0 {
			fmt.Fprintf(&b, ", pid %d", u.PID)
		}
		b.WriteString("\n")
	}
	if len(st.Files) == 0 {
		b.WriteString("files: none (not installed by 'torale-cred service install')\n")
	}
	for _, p := range st.Files {
		fmt.Fprintf(&b, "file: %s\n", p)
	}
	switch d := st.Daemon; {
	case d.Answering && d.OutsideManager:
		fmt.Fprintf(&b, "daemon: pid %d answers on %s outside the service manager (started by hand?); stop it before relying on the service\n", d.PID, d.Socket)
	case d.Answering:
		fmt.Fprintf(&b, "daemon: pid %d answers on %s\n", d.PID, d.Socket)
	default:
		fmt.Fprintf(&b, "daemon: nothing answers on %s\n", d.Socket)
	}
	_, err := fmt.Fprint(f.Out, b.String())
	return err
}
