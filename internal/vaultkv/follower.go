package vaultkv

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Follower timing.
const (
	// DefaultInterval is how often the secret's current version is asked
	// (one small metadata read; no key crosses the network unless it
	// changed), so a new version is served within a couple of seconds.
	DefaultInterval = time.Second
	// DefaultMaxBackoff bounds the wait between tries while Vault fails,
	// so a Vault that comes back is followed again within it.
	DefaultMaxBackoff = 5 * time.Second
)

// Follower keeps the secret's current version in memory: Run polls the
// version and reads the key when it changes; while Vault fails it keeps
// the last key and retries with backoff.
type Follower struct {
	C          *Client
	Interval   time.Duration // DefaultInterval when 0
	MaxBackoff time.Duration // DefaultMaxBackoff when 0
	Log        *slog.Logger  // nil: no log
	// OnChange runs after a new version was taken, off the poll's lock;
	// it must not keep or show the key beyond what it needs (a hint).
	OnChange func(s Secret)

	poll sync.Mutex // one poll at a time

	mu       sync.Mutex
	cur      Secret
	err      error     // the last poll's failure, nil when it worked
	errSince time.Time // when the current run of failures began
	okAt     time.Time // the last poll that worked
}

// State is what a Follower knows, for status and /v1/health. Never a key.
type State struct {
	Version  int
	Err      error
	ErrSince time.Time
	OKAt     time.Time
}

// State is the follower's state now.
func (f *Follower) State() State {
	f.mu.Lock()
	defer f.mu.Unlock()
	return State{Version: f.cur.Version, Err: f.err, ErrSince: f.errSince, OKAt: f.okAt}
}

// Current is the key served now: the last version read, even while Vault
// fails (the failure is in State). Before any key was read it is the
// failure, or ErrNotFound-class when the secret does not exist.
func (f *Follower) Current() (Secret, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cur.Key != "" {
		return f.cur, nil
	}
	if f.err != nil {
		return Secret{}, f.err
	}
	return Secret{}, errNotYet
}

var errNotYet = &Error{Kind: KindOther, Doing: "reading the secret", Err: errors.New("the secret was not read yet")}

// Loaded: a key is held.
func (f *Follower) Loaded() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cur.Key != ""
}

// Refresh polls once now: the version, and the key when it changed.
func (f *Follower) Refresh(ctx context.Context) error {
	f.poll.Lock()
	defer f.poll.Unlock()
	f.mu.Lock()
	have := f.cur
	f.mu.Unlock()
	version, s, err := f.C.CurrentVersion(ctx)
	if err == nil && s == nil && (version != have.Version || have.Key == "") {
		var got Secret
		got, err = f.C.Read(ctx)
		s = &got
	}
	f.record(have, s, err)
	return err
}

// Took records a version this process wrote itself (rotate), so it is
// served at once.
func (f *Follower) Took(s Secret) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s.Version >= f.cur.Version {
		f.cur = s
		f.err, f.errSince = nil, time.Time{}
	}
}

func (f *Follower) record(had Secret, s *Secret, err error) {
	now := time.Now()
	f.mu.Lock()
	changed := false
	if err == nil {
		if s != nil && s.Key != "" && s.Version != f.cur.Version {
			f.cur, changed = *s, true
		}
		if f.err != nil && f.Log != nil {
			f.Log.Info("Vault answers again", "secret", f.C.cfg.Where(), "version", f.cur.Version)
		}
		f.err, f.errSince, f.okAt = nil, time.Time{}, now
	} else {
		if f.err == nil {
			f.errSince = now
			if f.Log != nil {
				f.Log.Warn("Vault failed; the last key read is still served", "secret", f.C.cfg.Where(), "version", f.cur.Version, "err", err)
			}
		}
		f.err = err
	}
	version, cur := f.cur.Version, f.cur
	f.mu.Unlock()
	if changed {
		if f.Log != nil && had.Version != 0 {
			f.Log.Info("new version of the key taken from Vault", "secret", f.C.cfg.Where(), "version", version, "was", had.Version)
		}
		if f.OnChange != nil {
			f.OnChange(cur)
		}
	}
}

// Run polls until ctx ends: every Interval while Vault answers, backing
// off (doubling up to MaxBackoff) while it fails.
func (f *Follower) Run(ctx context.Context) error {
	iv, maxB := f.Interval, f.MaxBackoff
	if iv <= 0 {
		iv = DefaultInterval
	}
	if maxB <= 0 {
		maxB = DefaultMaxBackoff
	}
	wait := time.Duration(0)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, f.C.cfg.Timeout)
		err := f.Refresh(rctx)
		cancel()
		switch {
		case err == nil:
			wait = iv
		case wait < iv:
			wait = iv
		default:
			wait = min(wait*2, maxB)
		}
		t.Reset(wait)
	}
}
