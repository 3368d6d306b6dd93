package cli

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/daemon"
	"github.com/torale-ai/torale-cred/internal/notify"
	"github.com/torale-ai/torale-cred/internal/paths"
	"github.com/torale-ai/torale-cred/internal/version"
)

type daemonOptions struct {
	debug   bool
	noWatch bool
	noAudit bool
	// noEndpoint: no local endpoint; a migration leaves config.json
	// without a key (the behaviour before the endpoint).
	noEndpoint bool
	offline    bool
}

func newDaemonCmd(f *Factory) *cobra.Command {
	var o daemonOptions
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "Run the service in the foreground (what the systemd and launchd units run)",
		Long: `Runs torale-cred's service in the foreground until SIGTERM or Ctrl-C.

It answers credential look-ups on a private Unix socket (only your own user
may connect; curl --unix-socket SOCKET http://torale/v1/health), keeping
keychain reads in memory so look-ups take microseconds. Under systemd it
takes its socket from socket activation, reports readiness and pings the
watchdog, and logs to the journal.

A plaintext key that appears in config.json belongs to the daemon's profile:
--profile or $TORALE_PROFILE, else "default". Unless --no-endpoint, the
daemon serves the local Torale endpoint on 127.0.0.1 and writes a local token
and the endpoint's URL into config.json in the key's place, so the official
SDK keeps working without ever holding the key (torale-cred endpoint --help).

When a key without a known creation date is stored, the daemon asks the
Torale API for it once (GET /auth/api-keys, only over https), so the
rotation reminder counts the key's real age; --offline turns that off.`,
		Example: `  torale-cred daemon
  torale-cred daemon --socket /run/user/1000/torale/cred.sock --profile work`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDaemon(cmd.Context(), f, o) },
	}
	cmd.Flags().BoolVar(&o.debug, "debug", false, "log every detail")
	cmd.Flags().BoolVar(&o.noWatch, "no-watch", false, "leave config.json alone: do not move plaintext keys into the keychain (torale-cred import still does)")
	cmd.Flags().BoolVar(&o.noEndpoint, "no-endpoint", false, "serve no local Torale endpoint: a key moved out of config.json leaves no local token there (the SDK then needs TORALE_API_KEY)")
	cmd.Flags().BoolVar(&o.noAudit, "no-audit", false, "keep no audit trail and raise no first-use alerts (a profile's policy still applies)")
	cmd.Flags().BoolVar(&o.offline, "offline", false, "never ask the Torale API anything on its own (a new key's creation date, over https): ages then count from when a key was stored (also TORALE_CRED_OFFLINE=1)")
	return cmd
}

func runDaemon(ctx context.Context, f *Factory, o daemonOptions) error {
	profile, err := f.profile()
	if err != nil {
		return err
	}
	sock, err := f.socketPath()
	if err != nil {
		return err
	}
	cfgPath, err := f.configPath()
	if err != nil {
		return err
	}
	stateDir, err := paths.StateDir(f.Getenv)
	if err != nil {
		return err
	}
	kc, err := f.keychain()
	if err != nil {
		return err
	}
	period, err := f.rotationPeriod()
	if err != nil {
		return err
	}
	var ttl time.Duration
	if v := f.Getenv("TORALE_CRED_CACHE_TTL"); v != "" {
		// How old a cached keychain read may get (default 1m); for tests
		// and for users of other keychain tools who want changes sooner.
		if ttl, err = time.ParseDuration(v); err != nil || ttl <= 0 {
			return usageErrorf(msgDaemonBadCacheTTL, v)
		}
	}
	var confirmWait time.Duration
	if v := f.Getenv("TORALE_CRED_CONFIRM_WAIT"); v != "" {
		// How long a `confirm` question waits for the user (default and
		// most 30s): shorter for tests and for users who answer fast.
		if confirmWait, err = time.ParseDuration(v); err != nil || confirmWait <= 0 || confirmWait > credstore.ConfirmTimeout {
			return usageErrorf(msgDaemonBadConfirmWait, v)
		}
	}
	level := slog.LevelInfo
	if o.debug {
		level = slog.LevelDebug
	}
	w := f.IO.ErrOut
	if w == nil {
		w = os.Stderr
	}
	logger := daemon.NewLogger(w, level)
	// The runtime keeps Go's defaults. One P and GOGC 50 saved about 2 MiB
	// and answered a lone look-up sooner, but served 64 clients about a
	// fifth fewer look-ups a second (make bench, one P: 23,446/s against
	// 28,940/s with Go's default on this 2-core machine).
	d, err := daemon.New(daemon.Config{
		Keychain:       kc,
		ConfigPath:     cfgPath,
		StateDir:       stateDir,
		Profile:        profile,
		Migrate:        !o.noWatch,
		RotationPeriod: period,
		CacheTTL:       ttl,
		Socket:         sock,
		Logger:         logger,
		Version:        version.String(),
		Notify:         notify.Notify,
		NoAudit:        o.noAudit,
		ConfirmWait:    confirmWait,
		Endpoint:       !o.noEndpoint,
		EndpointOff:    o.noEndpoint,
	})
	if err != nil {
		return err
	}
	// A key just stored is asked its created_at at once (daemon.Reminder).
	kick := make(chan struct{}, 1)
	d.OnFilesChanged(func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	})
	offline := o.offline || f.Getenv("TORALE_CRED_OFFLINE") == "1"
	d.Go((&daemon.Reminder{Store: d.Store(), Period: period, Notify: notify.Notify, Logger: logger, Kick: kick, Offline: offline}).Run)
	return d.Run(ctx)
}
