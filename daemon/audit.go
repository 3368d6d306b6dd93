package daemon

import (
	"context"

	"github.com/torale-ai/torale-cred/internal/audit"
)

// openAudit starts the trail in the state directory and makes the store
// record every key it hands out through a door there.
func (d *Daemon) openAudit() {
	if d.cfg.NoAudit || d.cfg.StateDir == "" {
		return
	}
	d.trail = audit.Open(d.cfg.StateDir, audit.Options{MaxBytes: d.cfg.AuditMaxBytes, Logger: d.log, FirstUse: d.firstUse})
	d.store.Audit = d.record
}

// record queues a hand-out for the daemon's trail, its own and only.
func (d *Daemon) record(e audit.Event) { d.trail.Record(e) }

// firstUse says, in the log and on the desktop, that a program received a
// profile's key for the first time.
func (d *Daemon) firstUse(e audit.Event) {
	c := e.Caller
	d.log.Info("a program received a profile's key for the first time", "profile", e.Profile, "key", e.KeyHint,
		"exe", c.Exe, "pid", c.PID, "unit", c.Unit, "ssh_login", c.SSHLogin, "forwarded", c.Forwarded, "door", e.Door)
	if d.cfg.Notify == nil {
		return
	}
	title, body := audit.FirstUseAlert(e)
	go func() {
		if err := d.cfg.Notify(context.Background(), title, body); err != nil {
			d.log.Warn("first-use notification failed", "err", err)
		}
	}()
}

// auditStats are the trail's counters for /v1/health (nil: no trail).
func (d *Daemon) auditStats() func() audit.Stats {
	if d.trail == nil {
		return nil
	}
	return d.trail.Stats
}
