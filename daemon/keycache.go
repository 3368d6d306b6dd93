package daemon

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
)

// Key cache timing.
const (
	// DefaultCacheTTL bounds how old a keychain read the daemon serves can
	// be, so a change made with another keychain tool shows up.
	DefaultCacheTTL = time.Minute
	// failTTL is how long a keychain failure is answered from memory
	// before the keychain is asked again (it is dropped at once when the
	// keychain comes back).
	failTTL = 2 * time.Second
	// maxCachedProfiles bounds the cache; look-ups past it read the keychain.
	maxCachedProfiles = 256
	// sweepSlack is how far ahead the sweep forgets entries about to expire.
	sweepSlack = 2 * time.Second
)

// keyEntry is one keychain answer: a key, ErrNotFound or a keychain error.
type keyEntry struct {
	key string
	err error
	at  time.Time
}

// keyCache is a credstore.Source in front of the keychain: answers are
// kept at most TTL, concurrent reads of one profile share one keychain
// call (singleflight), and writes go straight through, recording what the
// keychain now holds. A single timer forgets expired keys, so none stays in
// memory much past its TTL and an idle daemon has nothing else to wake for.
type keyCache struct {
	kc     *keychain.Keychain
	ttl    time.Duration
	now    func() time.Time
	health *health

	flight singleflight.Group

	mu    sync.RWMutex
	keys  map[string]keyEntry
	wrote uint64 // bumped by every write, so a read that raced one is not cached
	sweep *time.Timer
}

func newKeyCache(kc *keychain.Keychain, ttl time.Duration, now func() time.Time, h *health) *keyCache {
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	c := &keyCache{kc: kc, ttl: ttl, now: now, health: h, keys: map[string]keyEntry{}}
	h.onUp(c.dropFailures)
	return c
}

func (c *keyCache) fresh(e keyEntry, now time.Time) bool {
	if e.err != nil && !errors.Is(e.err, storeerr.ErrNotFound) {
		return now.Sub(e.at) < failTTL
	}
	return now.Sub(e.at) < c.ttl
}

// Get implements credstore.Source: from memory while fresh; a key past
// two thirds of its TTL is served and renewed in the background, so keys in
// use never make a look-up wait on the keychain.
func (c *keyCache) Get(ctx context.Context, profile string) (string, error) {
	now := c.now()
	c.mu.RLock()
	e, ok := c.keys[profile]
	c.mu.RUnlock()
	if ok && c.fresh(e, now) {
		if e.err == nil {
			// A key in memory is served only while the keychain itself
			// would serve it: once it is locked or gone, the same health
			// record that status and /v1/health report refuses it here too
			// (no door hands out a key the keychain now withholds).
			if herr := c.health.check(ctx); herr != nil {
				return "", herr
			}
		}
		if e.err == nil && now.Sub(e.at) > c.ttl*2/3 {
			// Renewal in the background, shared like any read: look-ups
			// while it runs start no read of their own.
			c.fetch(ctx, profile)
		}
		return e.key, e.err
	}
	ch := c.fetch(ctx, profile)
	select {
	case r := <-ch:
		k, _ := r.Val.(string)
		return k, r.Err
	case <-ctx.Done():
		return "", &keychain.Error{Fault: keychain.FaultTimeout, Reason: "the look-up was abandoned while the keychain was being read"}
	}
}

// fetch reads profile's key unless a read of it is already in flight, in
// which case the caller shares that one.
func (c *keyCache) fetch(ctx context.Context, profile string) <-chan singleflight.Result {
	return c.flight.DoChan(profile, func() (any, error) {
		return c.read(context.WithoutCancel(ctx), profile)
	})
}

// read asks the keychain once and records the answer, unless a write
// landed meanwhile (its answer is newer than this one).
func (c *keyCache) read(ctx context.Context, profile string) (string, error) {
	c.mu.RLock()
	seq := c.wrote
	c.mu.RUnlock()
	at := c.now()
	key, err := c.kc.Get(ctx, profile)
	c.health.note(err)
	c.mu.Lock()
	if c.wrote == seq {
		c.putLocked(profile, keyEntry{key: key, err: err, at: at})
	}
	c.mu.Unlock()
	return key, err
}

// putLocked records e and arms the sweep; c.mu is held.
func (c *keyCache) putLocked(profile string, e keyEntry) {
	if _, ok := c.keys[profile]; !ok && len(c.keys) >= maxCachedProfiles {
		return
	}
	c.keys[profile] = e
	if c.sweep == nil {
		c.sweep = time.AfterFunc(c.ttl, c.forgetExpired)
	}
}

// forgetExpired drops what is past its TTL and re-arms for the next.
func (c *keyCache) forgetExpired() {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	next := time.Duration(-1)
	for p, e := range c.keys {
		// Entries due within sweepSlack go now too, so keys read at
		// nearly the same time cost one wake-up, not one each (an early
		// forget only means one more keychain read).
		if !c.fresh(e, now.Add(sweepSlack)) {
			delete(c.keys, p)
			continue
		}
		left := c.ttl - now.Sub(e.at)
		if e.err != nil && !errors.Is(e.err, storeerr.ErrNotFound) {
			left = failTTL - now.Sub(e.at)
		}
		if next < 0 || left < next {
			next = left
		}
	}
	c.sweep = nil
	if next >= 0 {
		c.sweep = time.AfterFunc(next+time.Millisecond, c.forgetExpired)
	}
}

// write runs a keychain write and records the outcome as the profile's
// current answer: e on success, nothing (read afresh next time) on failure.
// A write whose caller gave up (ctx done) says nothing about the keychain.
func (c *keyCache) write(ctx context.Context, profile string, fn func() error, e keyEntry) error {
	err := fn()
	if ctx.Err() == nil {
		c.health.note(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wrote++
	c.flight.Forget(profile)
	if err != nil {
		delete(c.keys, profile)
		return err
	}
	e.at = c.now()
	c.putLocked(profile, e)
	return nil
}

// Set implements credstore.Source.
func (c *keyCache) Set(ctx context.Context, profile, key string) error {
	return c.write(ctx, profile, func() error { return c.kc.Set(ctx, profile, key) }, keyEntry{key: key})
}

// Delete implements credstore.Source.
func (c *keyCache) Delete(ctx context.Context, profile string) error {
	err := c.write(ctx, profile, func() error { return c.kc.Delete(ctx, profile) }, keyEntry{err: storeerr.ErrNotFound})
	if errors.Is(err, storeerr.ErrNotFound) {
		c.mu.Lock()
		c.putLocked(profile, keyEntry{err: storeerr.ErrNotFound, at: c.now()})
		c.mu.Unlock()
	}
	return err
}

// Ping implements credstore.Source through the health record.
func (c *keyCache) Ping(ctx context.Context) error { return c.health.check(ctx) }

// forget drops profile's answer (a keychain write made behind our back).
func (c *keyCache) forget(profile string) {
	c.mu.Lock()
	c.wrote++
	delete(c.keys, profile)
	c.mu.Unlock()
}

// dropFailures forgets cached keychain failures so look-ups retry at once.
func (c *keyCache) dropFailures() {
	c.mu.Lock()
	for p, e := range c.keys {
		if e.err != nil && !errors.Is(e.err, storeerr.ErrNotFound) {
			delete(c.keys, p)
		}
	}
	c.mu.Unlock()
}

// warm reads the named profiles' keys, so the first look-ups are served
// from memory.
func (c *keyCache) warm(ctx context.Context, names []string) {
	for _, n := range names {
		if ctx.Err() != nil {
			return
		}
		_, _ = c.Get(ctx, n)
	}
}

var _ credstore.Source = (*keyCache)(nil)
