package daemon

import (
	"context"
	"fmt"
	"path/filepath"

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

// record queues a hand-out for the daemon's own trail; a caller with a state
// directory of its own gets the line in its own trail, as it would without
// the daemon (rare: written at once).
func (d *Daemon) record(dir string, e audit.Event) {
	if dir == d.cfg.StateDir || filepath.Clean(dir) == filepath.Clean(d.cfg.StateDir) {
		d.trail.Record(e)
		return
	}
	first, err := audit.Append(dir, 0, e)
	if err != nil {
		d.log.Warn("audit trail: cannot write the caller's own trail", "dir", dir, "err", err)
	}
	if first {
		d.firstUse(e)
	}
}

// firstUse says, in the log and on the desktop, that a program received a
// profile's key for the first time.
func (d *Daemon) firstUse(e audit.Event) {
	c := e.Caller
	d.log.Info("a program received a profile's key for the first time", "profile", e.Profile, "key", e.KeyHint,
		"exe", c.Exe, "pid", c.PID, "unit", c.Unit, "ssh", c.SSH, "door", e.Door)
	if d.cfg.Notify == nil {
		return
	}
	body := fmt.Sprintf("%s received the key %s of profile %q for the first time (through %s). See: torale-cred audit", c.Program(), e.KeyHint, e.Profile, e.Door)
	go func() {
		if err := d.cfg.Notify(context.Background(), "Torale API key: a new program", body); err != nil {
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
