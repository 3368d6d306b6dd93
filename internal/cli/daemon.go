package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/daemon"
	"github.com/torale-ai/torale-cred/internal/notify"
	"github.com/torale-ai/torale-cred/internal/version"
)

type daemonOptions struct {
	debug   bool
	noWatch bool
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
--profile or $TORALE_PROFILE, else "default".`,
		Example: `  torale-cred daemon
  torale-cred daemon --socket /run/user/1000/torale/cred.sock --profile work`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDaemon(cmd.Context(), f, o) },
	}
	cmd.Flags().BoolVar(&o.debug, "debug", false, "log every detail")
	cmd.Flags().BoolVar(&o.noWatch, "no-watch", false, "leave config.json alone: do not move plaintext keys into the keychain (torale-cred import still does)")
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
	st, err := f.Store()
	if err != nil {
		return err
	}
	st.ConfigProfile = profile
	level := slog.LevelInfo
	if o.debug {
		level = slog.LevelDebug
	}
	w := f.IO.ErrOut
	if w == nil {
		w = os.Stderr
	}
	period, err := f.rotationPeriodChecked()
	if err != nil {
		return err
	}
	var ttl time.Duration
	if v := f.Getenv("TORALE_CRED_CACHE_TTL"); v != "" {
		// How old a cached keychain read may get (default 1m); for tests
		// and for users of other keychain tools who want changes sooner.
		if ttl, err = time.ParseDuration(v); err != nil || ttl <= 0 {
			return usageErrorf("TORALE_CRED_CACHE_TTL=%q is not a duration such as 30s", v)
		}
	}
	logger := daemon.NewLogger(w, level)
	if err := tightenToraleDir(sock, f.Getenv, logger); err != nil {
		return err
	}
	cfg := daemon.Config{
		CacheTTL:       ttl,
		Store:          st,
		Socket:         sock,
		Logger:         logger,
		RotationPeriod: period,
		Version:        version.String(),
	}
	d, err := daemon.New(cfg)
	if err != nil {
		return err
	}
	// The watcher writes the keychain itself, so each migration drops the
	// cache at once rather than waiting for its age bound.
	if !o.noWatch {
		d.Go((&daemon.Watcher{Path: st.ConfigPath, Migrate: st.MigrateConfig, Logger: cfg.Logger, OnChange: d.InvalidateAll}).Run)
	}
	d.Go((&daemon.Reminder{Store: st, Period: period, Notify: notify.Notify, Logger: cfg.Logger, Env: credstore.EnvFrom(f.Getenv)}).Run)
	return d.Run(ctx)
}

// tightenToraleDir makes ~/.torale private when it is the socket's
// directory (no XDG_RUNTIME_DIR, as under launchd). The official CLI may
// have created it 0755, which the socket check would refuse; it holds
// config.json, so nobody else should list it anyway. Only a real directory
// of ours is touched, and the change is logged.
func tightenToraleDir(sock string, getenv func(string) string, log *slog.Logger) error {
	home := getenv("HOME")
	dir := filepath.Dir(sock)
	if home == "" || dir != filepath.Join(home, ".torale") {
		return nil
	}
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm()&0o077 == 0 || !ownedByMe(fi) {
		return nil // missing (created 0700 later) or not ours: the socket check decides
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("making %s private for the socket: %w", dir, err)
	}
	log.Info("made the socket's directory private", "dir", dir, "was", fmt.Sprintf("%#o", fi.Mode().Perm()))
	return nil
}
