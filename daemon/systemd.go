package daemon

import (
	"context"
	"log/slog"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"

	"github.com/torale-ai/torale-cred/ipc"
)

// sdNotify sends one sd_notify datagram; outside systemd it does nothing.
func sdNotify(state string) { _, _ = sd.SdNotify(false, state) }

// watchdogInterval is WATCHDOG_USEC when systemd asks for pings, else 0.
func watchdogInterval(log *slog.Logger) time.Duration {
	iv, err := sd.SdWatchdogEnabled(false)
	if err != nil {
		log.Warn("ignoring a malformed WATCHDOG_USEC", "err", err)
		return 0
	}
	return iv
}

// newWatchdogTicker is time.NewTicker's channel and stop; a test replaces
// it to see the period the watchdog chose and to tick by hand.
var newWatchdogTicker = func(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// watchdog pings systemd at half the interval, each time after checking
// that the socket still answers: a wedged server stops the pings and
// systemd restarts it.
func (d *Daemon) watchdog(ctx context.Context, socket string, iv time.Duration) {
	c := ipc.NewClient(socket, 0)
	defer c.Close()
	tick, stop := newWatchdogTicker(iv / 2)
	defer stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, iv/4)
		_, err := c.Info(cctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			d.log.Warn("self-check failed; not pinging the watchdog", "err", err)
		} else {
			sdNotify("WATCHDOG=1")
		}
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
	}
}
