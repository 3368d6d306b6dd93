package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/daemon/remote"
	"github.com/torale-ai/torale-cred/ipc"
)

type sshOptions struct {
	profiles []string
	ttl      time.Duration
	revoke   bool
}

func newSSHCmd(f *Factory) *cobra.Command {
	var o sshOptions
	cmd := &cobra.Command{
		Use:   "ssh [--profile P]... [--ttl D] HOST [SSH ARGS...]",
		Short: "Use a profile on an SSH host without its key ever going there",
		Long: `ssh runs ssh to HOST with a remote session: the daemon opens an endpoint of
its own for this session, ssh forwards a port on HOST's 127.0.0.1 to it, and
the session's shell on HOST gets TORALE_API_KEY (a session token, tcr_...,
never the key) and TORALE_API_URL (http://127.0.0.1:PORT), so a bare
ToraleClient() or curl there works while the key stays here. The first
--profile is the SDK's; further ones are in TORALE_CRED_SESSION_TOKENS as
profile=token pairs.

The token works through this session's forward only (another local program
cannot use the endpoint), never for key management (/auth/api-keys), and
stops working when this ssh exits or at --ttl (default 12h), whichever is
first. Each use is in the audit trail (door remote) with the destination
ssh's own arguments name. A profile's remote rule decides (torale-cred
policy remote PROFILE allow|confirm|deny): confirm asks on the desktop once
per session.

HOST's sshd must accept the variables: add to its sshd_config
  AcceptEnv TORALE_API_KEY TORALE_API_URL TORALE_CRED_SESSION_TOKENS
Without it the session opens but the shell there has no token. Any user on
HOST can connect to a port on its 127.0.0.1: the token is what keeps them
out, and only this session's processes (and root there) can read it.

The daemon must be running. torale-cred ssh becomes ssh (same pid, its exit
code is ssh's); ssh's -f (go to the background) ends the session, as the
process the daemon watches exits. --revoke ends every live session (or the
one named by its id, as torale-cred status lists them).`,
		Example: `  torale-cred ssh devbox
  torale-cred ssh --profile work --ttl 2h bob@gpu-host -p 2222
  torale-cred ssh --revoke`,
		Args: func(_ *cobra.Command, args []string) error {
			if o.revoke {
				if len(args) > 1 {
					return usageErrorf(msgSSHRevokeArgs)
				}
				return nil
			}
			if len(args) == 0 {
				return usageErrorf(msgSSHNoHost)
			}
			if o.ttl < 0 || o.ttl > remote.MaxTTL || (o.ttl > 0 && o.ttl < time.Second) {
				return usageErrorf(msgSSHBadTTL, remote.MaxTTL)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.revoke {
				return f.revokeSessions(cmd.Context(), args)
			}
			return f.runSSH(cmd.Context(), o, args)
		},
	}
	fl := cmd.Flags()
	fl.SetInterspersed(false) // everything from HOST on is ssh's
	fl.StringArrayVar(&o.profiles, "profile", nil, "a profile the session may use (repeat for more; default $TORALE_PROFILE, else \"default\")")
	fl.DurationVar(&o.ttl, "ttl", 0, "the session's longest life (default 12h)")
	fl.BoolVar(&o.revoke, "revoke", false, "end every live session (or the one whose id is given)")
	return cmd
}

// sessionClient is the daemon's client, or why there is none: a session
// lives in the daemon, so there is no answering alone.
func (f *Factory) sessionClient() (*ipc.Client, error) {
	sock, err := f.socketPath()
	if err != nil {
		return nil, err
	}
	return ipc.NewClient(sock, f.clientTimeout()), nil
}

func daemonNeeded(err error) error {
	if errors.Is(err, ipc.ErrNoDaemon) {
		return fmt.Errorf(msgSSHNeedsDaemon, err)
	}
	return err
}

func (f *Factory) runSSH(ctx context.Context, o sshOptions, args []string) error {
	profiles := o.profiles
	if len(profiles) == 0 {
		p, err := f.profile()
		if err != nil {
			return err
		}
		profiles = []string{p}
	}
	for _, p := range profiles {
		if err := credstore.CheckProfile(p); err != nil {
			return err
		}
	}
	sshPath, err := exec.LookPath("ssh")
	if err != nil {
		return fmt.Errorf(msgSSHNotInstalled, err)
	}
	c, err := f.sessionClient()
	if err != nil {
		return err
	}
	defer c.Close()
	opened, err := c.OpenSession(ctx, ipc.SessionRequest{Profiles: profiles, TTLSeconds: int64(o.ttl / time.Second), SSHArgs: args})
	if err != nil {
		return daemonNeeded(err)
	}
	c.Close()
	f.warn(msgSSHSession, opened.ID, shown(opened.Destination), shownList(opened.Profiles, ", "), opened.RemotePort, opened.ExpiresAt.Local().Format(time.DateTime))
	env := sessionEnv(os.Environ(), opened)
	// This process becomes ssh: the pid the daemon watches is the ssh
	// client's from here on, and the token is in its environment only.
	return execSSH(sshPath, opened.SSHArgs, env)
}

// sessionEnv is ssh's environment: ours without any TORALE_ variable (a
// real key in TORALE_API_KEY must not be sent, nor TORALE_DEV or
// TORALE_NOAUTH change the URL there), then the session's.
func sessionEnv(environ []string, o ipc.SessionOpened) []string {
	var env []string
	for _, kv := range environ {
		if !strings.HasPrefix(kv, "TORALE_") {
			env = append(env, kv)
		}
	}
	if len(o.Tokens) == 0 {
		return env
	}
	env = append(env, remote.EnvKey+"="+o.Tokens[0].Token, remote.EnvURL+"="+o.RemoteURL)
	if len(o.Tokens) > 1 {
		var more []string
		for _, t := range o.Tokens[1:] {
			more = append(more, t.Profile+"="+t.Token)
		}
		env = append(env, remote.EnvTokens+"="+strings.Join(more, ","))
	}
	return env
}

func (f *Factory) revokeSessions(ctx context.Context, args []string) error {
	c, err := f.sessionClient()
	if err != nil {
		return err
	}
	defer c.Close()
	id := ""
	if len(args) == 1 {
		id = args[0]
	}
	n, err := c.RevokeSessions(ctx, id)
	if err != nil {
		return daemonNeeded(err)
	}
	switch {
	case n == 0 && id != "":
		return fmt.Errorf(msgSSHNoSuchSession, shown(id))
	case n == 1:
		f.say(msgSSHEndedOne)
	default:
		f.say(msgSSHEnded, n)
	}
	return nil
}
