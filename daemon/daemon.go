// Package daemon is torale-cred's long-running service: it serves the
// socket API from an in-memory cache of the store, speaks to systemd
// (socket activation, readiness, watchdog, journal) and runs the background
// jobs it is given. It never talks to a socket peer itself (package ipc
// does) and never keeps a key anywhere but in memory and the keychain.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/activation"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/ipc"
)

// DefaultShutdownTimeout bounds how long requests in flight and background
// jobs get to finish after SIGTERM.
const DefaultShutdownTimeout = 5 * time.Second

// Config is what the daemon runs with.
type Config struct {
	// Store is the keychain, metadata and config.json (its ConfigProfile is
	// the profile a plaintext key in config.json belongs to).
	Store *credstore.Store
	// Socket is where to listen unless systemd passes a socket (LISTEN_FDS).
	Socket string
	// Logger receives the daemon's logs (NewLogger picks the journal under
	// systemd); nil logs nowhere.
	Logger *slog.Logger
	// RotationPeriod is how long a key lives before it is due (0: 90 days).
	RotationPeriod time.Duration
	// Version is reported by /v1/health.
	Version string
	// Background jobs run beside the server until shutdown (the config.json
	// watcher, the rotation reminder). A job's error is logged; it does not
	// stop the daemon: look-ups keep being answered.
	Background []func(ctx context.Context) error

	// CacheTTL bounds the age of a keychain read served (default 1 min).
	CacheTTL time.Duration
	// FilePoll is how often config.json and state.json are stat'ed (1 s).
	FilePoll time.Duration
	// ShutdownTimeout bounds a graceful stop (default 5 s).
	ShutdownTimeout time.Duration
	// Server tunes the socket API (timeouts, connection cap).
	Server ipc.Options
	// Listener, when set, is served instead of listening (tests).
	Listener net.Listener
	// NoHarden skips the process hardening (in-process tests only).
	NoHarden bool
	// MaxProcs is the GOMAXPROCS the daemon runs with: 0 means 1 unless
	// $GOMAXPROCS says otherwise (one P answers look-ups with fewer
	// hand-offs between threads: lower latency, the same throughput);
	// negative leaves it alone.
	MaxProcs int
	// GCPercent is the daemon's GOGC: 0 means 50 unless $GOGC says
	// otherwise (the live heap is tiny; collecting sooner keeps resident
	// memory about 2 MiB lower at the same throughput); negative leaves it.
	GCPercent int
}

// Daemon is one run of the service.
type Daemon struct {
	cfg   Config
	log   *slog.Logger
	cache *Cache
}

// New prepares a daemon; Run starts it. Between the two, the Daemon's
// Invalidate methods may be captured by Background jobs.
func New(cfg Config) (*Daemon, error) {
	if cfg.Store == nil {
		return nil, errors.New("daemon: no store")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	d := &Daemon{cfg: cfg, log: cfg.Logger}
	d.cache = NewCache(cfg.Store, cfg.RotationPeriod, cfg.CacheTTL, cfg.Logger)
	return d, nil
}

// Go adds a background job; call it before Run.
func (d *Daemon) Go(job func(ctx context.Context) error) {
	d.cfg.Background = append(d.cfg.Background, job)
}

// Run is New followed by (*Daemon).Run.
func Run(ctx context.Context, cfg Config) error {
	d, err := New(cfg)
	if err != nil {
		return err
	}
	return d.Run(ctx)
}

// Backend is the cache the socket API serves; writes through it (Put,
// Delete) keep it current.
func (d *Daemon) Backend() *Cache { return d.cache }

// Invalidate drops profile's cached key (after a keychain write the daemon
// did not make itself).
func (d *Daemon) Invalidate(profile string) { d.cache.Invalidate(profile) }

// InvalidateConfig re-reads config.json and state.json and drops the
// config profile's cached key: the watcher calls it after each change or
// migration.
func (d *Daemon) InvalidateConfig() { d.cache.InvalidateConfig() }

// InvalidateAll drops everything cached.
func (d *Daemon) InvalidateAll() { d.cache.InvalidateAll() }

// Run serves until ctx ends (SIGTERM/SIGINT), then stops gracefully:
// stop accepting, finish requests in flight within ShutdownTimeout, stop
// the background jobs, remove the socket it created (never an inherited
// one). Keychain trouble never ends it.
func (d *Daemon) Run(ctx context.Context) error {
	if !d.cfg.NoHarden {
		for _, err := range harden() {
			d.log.Warn("process hardening incomplete", "err", err)
		}
	}
	switch {
	case d.cfg.MaxProcs > 0:
		runtime.GOMAXPROCS(d.cfg.MaxProcs)
	case d.cfg.MaxProcs == 0 && os.Getenv("GOMAXPROCS") == "":
		runtime.GOMAXPROCS(1)
	}
	switch {
	case d.cfg.GCPercent > 0:
		debug.SetGCPercent(d.cfg.GCPercent)
	case d.cfg.GCPercent == 0 && os.Getenv("GOGC") == "":
		debug.SetGCPercent(50)
	}
	l, inherited, err := d.listen()
	if err != nil {
		return err
	}
	addr := l.Addr().String()

	so := d.cfg.Server
	so.Logger, so.Version = d.log, d.cfg.Version
	if min := d.cfg.Store.Keychain.Timeout() + 5*time.Second; so.WriteTimeout < min {
		so.WriteTimeout = max(min, 15*time.Second)
	}
	srv := ipc.NewServer(d.cache, so)
	d.cache.onHealth = func(err error) {
		if err != nil {
			sdNotify("STATUS=serving on " + addr + "; keychain unavailable: " + err.Error())
		} else {
			sdNotify("STATUS=serving on " + addr)
		}
	}

	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	var wg sync.WaitGroup
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(l) }()
	wg.Go(func() { d.cache.Refresh(bg, d.cfg.FilePoll) })
	wg.Go(func() { d.cache.Warm(bg) })
	for i, job := range d.cfg.Background {
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

	d.log.Info("serving", "socket", addr, "socket_activated", inherited, "version", d.cfg.Version, "pid", os.Getpid())
	sdNotify("READY=1\nSTATUS=serving on " + addr + "\nMAINPID=" + fmt.Sprint(os.Getpid()))

	var runErr error
	select {
	case <-ctx.Done():
		d.log.Info("stopping", "reason", context.Cause(ctx))
	case runErr = <-serveErr:
		d.log.Error("server stopped", "err", runErr)
	}
	sdNotify("STOPPING=1\nSTATUS=stopping")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		d.log.Warn("requests still in flight at shutdown were cut off", "err", err)
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
