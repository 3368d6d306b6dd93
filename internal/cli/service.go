package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/torale-ai/torale-cred/internal/usersvc"
)

// newServiceCmd is `service install|uninstall|start|stop|status`: flags and
// printing here (each step usersvc reports, worded by msgServiceStep), the
// work in internal/usersvc.
func newServiceCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "service",
		Short: "Install, start, stop or remove the per-user service (systemd, launchd)",
		Long: `Runs 'torale-cred daemon' as a per-user service, inside your login session
so it can reach the keychain.

Linux: writes torale-cred.service and torale-cred.socket (the same files the
packages ship, ExecStart pointing at this binary) to ~/.config/systemd/user
and enables both: the service at every login, so its watcher moves a
plaintext key out of ~/.torale/config.json even when no tool ever asks the
socket (the SDK reads the file itself); the socket for look-ups. It starts
the socket now, so the daemon starts on the first look-up, or at the next
login; 'torale-cred service start' starts it at once. macOS: writes ~/Library/LaunchAgents/ai.torale.cred.plist and
loads it with launchctl bootstrap. Without a service manager (a container,
no 'systemd --user'), run 'torale-cred daemon' yourself.`,
		Example: `  torale-cred service install
  torale-cred service status
  torale-cred service uninstall`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return usageErrorf(msgServiceNoSubcommand)
		},
	}
	env := func() *usersvc.Env {
		return &usersvc.Env{Getenv: f.Getenv, SocketPath: f.SocketPath, Did: func(s usersvc.Step) {
			if line := msgServiceStep(s); line != "" {
				f.say("%s", line)
			}
		}}
	}
	run := func(use, short, long string, do func(usersvc.Manager, context.Context) error) *cobra.Command {
		return &cobra.Command{
			Use: use, Short: short, Long: long, Args: cobra.NoArgs,
			RunE: func(c *cobra.Command, _ []string) error {
				m, err := usersvc.NewManager(env())
				if err != nil {
					return err
				}
				return do(m, c.Context())
			},
		}
	}
	var asJSON bool
	status := run("status", "Show whether the service is installed, enabled and running", "",
		func(m usersvc.Manager, ctx context.Context) error {
			st, err := m.Status(ctx)
			if err != nil {
				return err
			}
			st.Daemon = env().DaemonOnSocket(ctx, st.Units)
			if asJSON {
				return writeJSON(f.IO.Out, st)
			}
			return printServiceState(f, st)
		})
	status.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	cmd.AddCommand(
		run("install", "Install and enable the per-user service",
			"Installs the service for this user and enables it; running it again updates\nthe files and changes nothing else. Prints what it did.",
			usersvc.Manager.Install),
		run("uninstall", "Stop the service and remove exactly what install wrote", "", usersvc.Manager.Uninstall),
		run("start", "Start the service now", "", usersvc.Manager.Start),
		run("stop", "Stop the service until the next start or login", "", usersvc.Manager.Stop),
		status,
	)
	return cmd
}

func printServiceState(f *Factory, st usersvc.State) error {
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
		b.WriteString("files: " + msgServiceNoFiles + "\n")
	}
	for _, p := range st.Files {
		fmt.Fprintf(&b, "file: %s\n", p)
	}
	switch d := st.Daemon; {
	case d.Answering && d.OutsideManager:
		fmt.Fprintf(&b, "daemon: "+msgServiceDaemonOutside+"\n", d.PID, d.Socket)
	case d.Answering:
		fmt.Fprintf(&b, "daemon: "+msgServiceDaemonAnswers+"\n", d.PID, d.Socket)
	default:
		fmt.Fprintf(&b, "daemon: "+msgServiceDaemonSilent+"\n", d.Socket)
	}
	_, err := fmt.Fprint(f.IO.Out, b.String())
	return err
}
