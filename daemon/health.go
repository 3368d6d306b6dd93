package daemon

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
)

const (
	// healthEvery bounds the age of the keychain state /v1/health reports.
	healthEvery = 5 * time.Second
	// downEvery is how often an unavailable keychain is checked until it
	// is back, so look-ups and the watcher recover within it.
	downEvery = 500 * time.Millisecond
)

// health is what the daemon knows of the keychain: every keychain call
// reports to it, it pings only while the keychain is down (or when asked
// for a state older than healthEvery), and it tells its listeners when the
// keychain goes away or comes back.
type health struct {
	kc  *keychain.Keychain
	now func() time.Time
	log *slog.Logger
	// needed, when set, says whether any profile reads the keychain: a
	// keychain no profile needs is logged as such, not as an outage.
	needed func() bool

	mu      sync.Mutex
	err     error
	at      time.Time
	pinging bool
	ups     []func()
	changes []func(error)
}

func newHealth(kc *keychain.Keychain, now func() time.Time, log *slog.Logger) *health {
	return &health{kc: kc, now: now, log: log}
}

// onUp registers fn to run when the keychain is back.
func (h *health) onUp(fn func()) {
	h.mu.Lock()
	h.ups = append(h.ups, fn)
	h.mu.Unlock()
}

// onChange registers fn to run on every change (nil: back).
func (h *health) onChange(fn func(error)) {
	h.mu.Lock()
	h.changes = append(h.changes, fn)
	h.mu.Unlock()
}

// note records what a keychain call said about the keychain.
func (h *health) note(err error) {
	if err != nil && !errors.Is(err, storeerr.ErrKeychain) {
		return // not found, bad key: the keychain answered
	}
	h.mu.Lock()
	was := h.err
	h.err, h.at = err, h.now()
	changed := (was == nil) != (err == nil)
	startPing := err != nil && !h.pinging
	if startPing {
		h.pinging = true
	}
	ups, changes := h.ups, h.changes
	h.mu.Unlock()
	if startPing {
		time.AfterFunc(downEvery, h.ping)
	}
	if !changed {
		return
	}
	switch {
	case err != nil && h.needed != nil && !h.needed():
		h.log.Info(msgKeychainNotNeeded, "err", err)
	case err != nil:
		h.log.Warn("keychain unavailable; stored look-ups answer 503 until it is back", "err", err)
	default:
		h.log.Info("keychain available again")
		for _, fn := range ups {
			fn()
		}
	}
	for _, fn := range changes {
		fn(err)
	}
}

// ping checks the keychain while it is down, every downEvery until back.
func (h *health) ping() {
	ctx, cancel := context.WithTimeout(context.Background(), h.kc.Timeout())
	err := h.kc.Ping(ctx)
	cancel()
	h.mu.Lock()
	h.pinging = false
	h.mu.Unlock()
	h.note(err) // re-arms while still down
}

// check is the keychain's state no older than healthEvery.
func (h *health) check(ctx context.Context) error {
	h.mu.Lock()
	recent, err := !h.at.IsZero() && h.now().Sub(h.at) < healthEvery, h.err
	h.mu.Unlock()
	if recent {
		return err
	}
	err = h.kc.Ping(ctx)
	if ctx.Err() == nil { // a caller that gave up says nothing about the keychain
		h.note(err)
	}
	return err
}

// refresh asks the keychain now, whatever the record's age (the Secret
// Service said a collection was locked or unlocked).
func (h *health) refresh(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, h.kc.Timeout())
	defer cancel()
	err := h.kc.Ping(ctx)
	if ctx.Err() == nil {
		h.note(err)
	}
}
