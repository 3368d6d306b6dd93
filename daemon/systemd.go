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

// watchdog pings systemd at half the interval, each time after checking
// that the socket still answers: a wedged server stops the pings and
// systemd restarts it.
func (d *Daemon) watchdog(ctx context.Context, socket string, iv time.Duration) {
	c := ipc.NewClient(socket, 0)
	defer c.Close()
	t := time.NewTicker(iv / 2)
	defer t.Stop()
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
		case <-t.C:
		}
	}
}
