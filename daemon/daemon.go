// Package daemon is torale-cred's long-running service: it serves the
// socket API from an in-memory cache of the store, speaks to systemd
// (socket activation, readiness, watchdog, journal) and runs the background
// jobs it is given. It never talks to a socket peer itself (package ipc
// does) and never keeps a key anywhere but in memory and the keychain.
package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/activation"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/daemon/remote"
	"github.com/torale-ai/torale-cred/internal/audit"
	"github.com/torale-ai/torale-cred/internal/harden"
	"github.com/torale-ai/torale-cred/internal/toraleconfig"
	"github.com/torale-ai/torale-cred/ipc"
)

// DefaultShutdownTimeout bounds how long requests in flight and background
// jobs get to finish after SIGTERM.
const DefaultShutdownTimeout = 5 * time.Second

// Config is what the daemon runs with.
type Config struct {
	// Keychain is the OS keychain (keychain.New).
	Keychain *keychain.Keychain
	// ConfigPath is the watched config.json; StateDir holds state.json.
	ConfigPath string
	StateDir   string
	// Profile is the daemon's profile: config.json's key belongs to it
	// (recorded in state.json, so every door agrees).
	Profile string
	// Migrate: move plaintext keys out of config.json as they appear
	// (false: daemon --no-watch; config.json is still watched for changes).
	Migrate bool
	// RotationPeriod is how long a key lives before it is due (0: 90 days).
	RotationPeriod time.Duration
	// Socket is where to listen unless systemd passes a socket (LISTEN_FDS).
	Socket string
	// Logger receives the daemon's logs (NewLogger picks the journal under
	// systemd); nil logs nowhere.
	Logger *slog.Logger
	// Version is reported by /v1/health.
	Version string
	// CacheTTL bounds the age of a keychain read served (default 1 min).
	CacheTTL time.Duration
	// Server tunes the socket API (timeouts, connection cap).
	Server ipc.Options
	// Listener, when set, is served instead of listening (tests).
	Listener net.Listener
	// NoHarden skips the process hardening (in-process tests only).
	NoHarden bool
	// Notify shows desktop notifications (notify.Notify); nil: log only.
	Notify func(ctx context.Context, title, body string) error
	// NoAudit keeps no audit trail and raises no first-use alerts (a
	// profile's policy still applies).
	NoAudit bool
	// AuditMaxBytes bounds the trail's current file (0: audit.DefaultMaxBytes).
	AuditMaxBytes int64
	// ConfirmWait bounds a policy's wait for the user (0: 30 s).
	ConfirmWait time.Duration
	// Endpoint serves the local Torale endpoint on 127.0.0.1 (the CLI's
	// default; false: daemon --no-endpoint, and in-process tests).
	Endpoint bool
	// EndpointOff: the user turned the endpoint off (--no-endpoint),
	// recorded in state.json so import and status agree.
	EndpointOff bool
	// EndpointPort replaces the port recorded in state.json (0: that one,
	// or a free one the first time).
	EndpointPort int
	// VaultInterval is how often a Vault profile's current version is
	// asked (0: vaultkv.DefaultInterval); VaultMaxBackoff bounds the wait
	// between tries while Vault fails (0: vaultkv.DefaultMaxBackoff).
	VaultInterval, VaultMaxBackoff time.Duration
}

// Daemon is one run of the service.
type Daemon struct {
	cfg    Config
	log    *slog.Logger
	store  *credstore.Store
	keys   *keyCache
	remote *remotes
	files  *fileCache
	health *health
	trail  *audit.Trail // nil: NoAudit
	// endpointURL is the local endpoint's while it runs.
	endpointURL string
	background  []func(ctx context.Context) error
	onChange    []func()
}

// New prepares a daemon; Run starts it. Between the two, Go adds
// background jobs, which may use Store.
func New(cfg Config) (*Daemon, error) {
	if cfg.Keychain == nil {
		return nil, errors.New("daemon: no keychain")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Profile == "" {
		cfg.Profile = credstore.DefaultProfile
	}
	d := &Daemon{cfg: cfg, log: cfg.Logger}
	d.health = newHealth(cfg.Keychain, time.Now, cfg.Logger)
	d.keys = newKeyCache(cfg.Keychain, cfg.CacheTTL, time.Now, d.health)
	disk := credstore.DiskFiles{ConfigPath: cfg.ConfigPath, StateFile: credstore.StateFile{Dir: cfg.StateDir}}
	d.files = newFileCache(disk)
	d.remote = newRemotes(cfg.Logger, cfg.VaultInterval, cfg.VaultMaxBackoff)
	d.remote.taken = d.recordTaken
	d.store = &credstore.Store{Keychain: d.keys, Remote: d.remote.open, Shelf: cfg.Keychain.Shelf(), StateFile: disk.StateFile, ConfigPath: cfg.ConfigPath,
		Files: d.files, Period: cfg.RotationPeriod, ConfirmWait: cfg.ConfirmWait, Warn: func(msg string) { d.log.Warn(msg) },
		Tokens: cfg.Keychain} // tokens read afresh: the CLI may reissue one
	d.health.needed = d.keychainNeeded
	d.openAudit()
	if err := d.store.SetConfigOwner(cfg.Profile); err != nil {
		d.log.Warn("cannot record the daemon's profile as config.json's owner", "profile", cfg.Profile, "err", err)
	}
	return d, nil
}

// Go adds a background job; call it before Run. A job's error is logged;
// it does not stop the daemon: look-ups keep being answered.
func (d *Daemon) Go(job func(ctx context.Context) error) {
	d.background = append(d.background, job)
}

// Store is the Backend the socket serves: the keychain behind the daemon's
// key cache, and the files as its watchers last saw them.
func (d *Daemon) Store() *credstore.Store { return d.store }

// filesChanged is the watchers' word that config.json or state.json
// changed: both are read again, and config.json's profile's key is read
// afresh (a migration just wrote it).
func (d *Daemon) filesChanged() {
	d.files.Reload()
	d.keys.forget(d.store.ConfigOwner())
	if st, err := d.files.State(); err == nil {
		d.remote.reconcile(st)
	}
	for _, fn := range d.onChange {
		fn()
	}
}

// OnFilesChanged adds fn to what runs each time the watchers see
// config.json or state.json change (a key stored, moved or removed); call
// it before Run. fn must not block.
func (d *Daemon) OnFilesChanged(fn func()) { d.onChange = append(d.onChange, fn) }

// watchers are the config.json watcher (which also migrates, unless
// --no-watch) and the state.json watcher, both feeding filesChanged.
func (d *Daemon) watchers() []func(ctx context.Context) error {
	migrate := d.store.MigrateConfig
	if !d.cfg.Migrate {
		migrate = nothingToMigrate
	}
	kick := make(chan struct{}, 1)
	d.health.onUp(func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	})
	var jobs []func(ctx context.Context) error
	if d.cfg.ConfigPath != "" {
		jobs = append(jobs, (&Watcher{Path: d.cfg.ConfigPath, Migrate: migrate, Logger: d.log, OnChange: d.filesChanged, Kick: kick, Disposable: d.disposable, Notify: d.cfg.Notify}).Run)
	}
	if d.cfg.StateDir != "" {
		state := d.store.StateFile.Path()
		jobs = append(jobs, (&Watcher{Path: state, Migrate: nothingToMigrate, Logger: slog.New(slog.DiscardHandler), OnChange: d.filesChanged, Quiet: true}).Run)
	}
	return jobs
}

// disposable: a rewrite's leftover may go when it holds no key, or only the
// key the keychain already holds for config.json's profile.
func (d *Daemon) disposable(content []byte) bool {
	c, err := toraleconfig.Parse(content)
	if err != nil || c.APIKey == "" || credstore.IsLocalToken(c.APIKey) {
		return err == nil || !bytes.Contains(content, []byte("sk_"))
	}
	// The daemon's own comparison: the keychain itself, nothing handed out.
	k, err := d.store.Keychain.Get(context.Background(), d.store.ConfigOwner())
	return err == nil && k == c.APIKey
}

func nothingToMigrate(context.Context) (credstore.MigrationResult, error) {
	return credstore.MigrationResult{Outcome: credstore.NothingToMigrate}, nil
}

// Run serves until ctx ends (SIGTERM/SIGINT), then stops gracefully:
// stop accepting, finish requests in flight within DefaultShutdownTimeout, stop
// the background jobs, remove the socket it created (never an inherited
// one). Keychain trouble never ends it.
func (d *Daemon) Run(ctx context.Context) error {
	if !d.cfg.NoHarden {
		for _, err := range harden.Process() {
			d.log.Warn("process hardening incomplete", "err", err)
		}
	}
	if d.cfg.ConfigPath != "" {
		// Before listening: without XDG_RUNTIME_DIR the socket lives there.
		tightenToraleDir(d.cfg.ConfigPath, d.log)
	}
	l, inherited, err := d.listen()
	if err != nil {
		return err
	}
	addr := l.Addr().String()

	so := d.cfg.Server
	so.Logger, so.Version = d.log, d.cfg.Version
	so.Watching = d.cfg.Migrate
	so.Audit = d.auditStats()
	so.ConfigPath, so.StateDir = d.store.ConfigPath, d.store.StateFile.Dir
	so.Stores = d.remote.statuses
	if min := d.cfg.Keychain.Timeout() + 5*time.Second; so.WriteTimeout < min {
		so.WriteTimeout = max(min, 15*time.Second)
	}
	sessions := remote.New(remote.Options{Store: d.store, Logger: d.log})
	so.Sessions = sessions
	srv := ipc.NewServer(d.store, so)
	d.health.onChange(func(err error) {
		switch {
		case err != nil && !d.keychainNeeded():
			sdNotify("STATUS=serving on " + addr + "; " + msgKeychainNotNeeded)
		case err != nil:
			sdNotify("STATUS=serving on " + addr + "; keychain unavailable: " + err.Error())
		default:
			sdNotify("STATUS=serving on " + addr)
		}
	})

	stopEndpoint := d.startEndpoint(ctx)
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	var wg sync.WaitGroup
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(l) }()
	wg.Go(func() { d.keys.warm(bg, d.profiles()) })
	wg.Go(func() { _ = d.remote.run(bg) })
	wg.Go(func() { d.store.OpenRemotes(bg) })
	for i, job := range append(append(d.watchers(), d.watchKeychainLock), d.background...) {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					d.log.Error("background job panicked", "job", i, "panic", fmt.Sprint(p))
				}
			}()
			if err := job(bg); err != nil && bg.Err() == nil {
				d.log.Error("background job stopped", "job", i, "err", err)
			}
		})
	}
	if iv := watchdogInterval(d.log); iv > 0 {
		wg.Go(func() { d.watchdog(bg, addr, iv) })
	}

	d.log.Info("serving", "socket", addr, "socket_activated", inherited, "version", d.cfg.Version, "pid", os.Getpid(),
		"watching", d.cfg.ConfigPath, "moving_plaintext_keys", d.cfg.Migrate, "profile", d.cfg.Profile, "endpoint", d.endpointURL)
	sdNotify("READY=1\nSTATUS=serving on " + addr + "\nMAINPID=" + fmt.Sprint(os.Getpid()))

	var runErr error
	select {
	case <-ctx.Done():
		d.log.Info("stopping", "reason", context.Cause(ctx))
	case runErr = <-serveErr:
		d.log.Error("server stopped", "err", runErr)
	}
	sdNotify("STOPPING=1\nSTATUS=stopping")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		d.log.Warn("requests still in flight at shutdown were cut off", "err", err)
	}
	sessions.Close()
	if stopEndpoint != nil {
		stopEndpoint(sctx)
	}
	if d.trail != nil {
		if err := d.trail.Close(sctx); err != nil {
			d.log.Warn("audit trail: records still queued at shutdown were lost", "err", err)
		}
	}
	stopBG()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-sctx.Done():
		d.log.Warn("background jobs did not stop in time")
	}
	_ = l.Close() // an ipc.Listen socket removes itself; an inherited one stays
	d.log.Info("stopped")
	return runErr
}

// profiles are the ones worth warming: config.json's owner and every
// profile with metadata.
// msgKeychainNotNeeded is the status of a daemon without a keychain
// whose every profile reads a store beyond this machine (a headless
// service on systemd credentials, Vault): nothing to fix.
const msgKeychainNotNeeded = "no keychain, and none needed: every profile reads its key from a store beyond this machine"

// keychainNeeded reports whether a profile reads its key from this
// machine's keychain (any profile with no store of its own does, the
// daemon's own included).
func (d *Daemon) keychainNeeded() bool {
	for _, p := range d.profiles() {
		if !d.store.StoreOf(p).Remote() {
			return true
		}
	}
	return false
}

func (d *Daemon) profiles() []string {
	names := []string{d.store.ConfigOwner()}
	if st, err := d.files.State(); err == nil {
		for _, n := range st.Names() {
			if n != names[0] {
				names = append(names, n)
			}
		}
	}
	return names
}

// listen takes systemd's socket when LISTEN_FDS is set (asking once: the
// call clears the variables), else makes a private one.
func (d *Daemon) listen() (net.Listener, bool, error) {
	if d.cfg.Listener != nil {
		return d.cfg.Listener, true, nil
	}
	if os.Getenv("LISTEN_FDS") != "" {
		ls, err := activation.Listeners()
		if err != nil {
			return nil, false, fmt.Errorf("taking the socket from systemd: %w", err)
		}
		var pick net.Listener
		for _, l := range ls {
			switch {
			case l == nil:
			case pick == nil && l.Addr().Network() == "unix":
				pick = l
			default:
				d.log.Warn("ignoring an extra socket passed by systemd", "addr", l.Addr().String())
				l.Close()
			}
		}
		if pick != nil {
			if ul, ok := pick.(*net.UnixListener); ok {
				ul.SetUnlinkOnClose(false)
			}
			checkInherited(d.log, pick.Addr().String())
			return pick, true, nil
		}
		d.log.Warn("LISTEN_FDS is set but no Unix socket was passed to this process; listening myself", "socket", d.cfg.Socket)
	}
	if d.cfg.Socket == "" {
		return nil, false, errors.New("no socket path")
	}
	l, err := ipc.Listen(d.cfg.Socket)
	return l, false, err
}

// checkInherited warns when systemd's socket is not private; the peer
// check still refuses other users.
func checkInherited(log *slog.Logger, path string) {
	fi, err := os.Stat(path)
	if err != nil {
		return
	}
	if fi.Mode().Perm()&0o077 != 0 {
		log.Warn("the socket systemd passed is open to other users (set SocketMode=0600); their connections are refused", "socket", path, "mode", fi.Mode().Perm().String())
	}
}
