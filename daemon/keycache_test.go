package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
)

const (
	cacheKey1 = "sk_cacheTEST0000000000000000000000001"
	cacheKey2 = "sk_cacheTEST0000000000000000000000002"
)

// memKeyring is an in-memory keychain.Keyring that counts the calls the
// cache makes: these tests are about when the cache asks the keychain, not
// about the keychain. A test can make every call fail, or hold reads: a
// held Get has read its value and waits to return it (a slow D-Bus
// answer), after telling entered.
type memKeyring struct {
	mu      sync.Mutex
	keys    map[string]string
	err     error
	hold    chan struct{}
	entered chan string

	gets, sets, dels atomic.Int64
}

func newMemKeyring(keys map[string]string) *memKeyring {
	return &memKeyring{keys: keys, entered: make(chan string, 1024)}
}

func (k *memKeyring) Get(_, user string) (string, error) {
	k.gets.Add(1)
	k.mu.Lock()
	v, ok := k.keys[user]
	err, hold := k.err, k.hold
	k.mu.Unlock()
	if hold != nil {
		k.entered <- user
		<-hold
	}
	switch {
	case err != nil:
		return "", err
	case !ok:
		return "", keyring.ErrNotFound
	}
	return v, nil
}

func (k *memKeyring) Set(_, user, key string) error {
	k.sets.Add(1)
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.err != nil {
		return k.err
	}
	k.keys[user] = key
	return nil
}

func (k *memKeyring) Delete(_, user string) error {
	k.dels.Add(1)
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.err != nil {
		return k.err
	}
	if _, ok := k.keys[user]; !ok {
		return keyring.ErrNotFound
	}
	delete(k.keys, user)
	return nil
}

// put changes a key behind the cache's back (another keychain tool).
func (k *memKeyring) put(user, key string) { k.mu.Lock(); k.keys[user] = key; k.mu.Unlock() }

// fail makes every call answer err (nil: the keychain is back).
func (k *memKeyring) fail(err error) { k.mu.Lock(); k.err = err; k.mu.Unlock() }

// holdReads makes every Get wait until the returned func is called.
func (k *memKeyring) holdReads() (release func()) {
	ch := make(chan struct{})
	k.mu.Lock()
	k.hold = ch
	k.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			k.mu.Lock()
			k.hold = nil
			k.mu.Unlock()
			close(ch)
		})
	}
}

// errNoBus is what go-keyring says without a Secret Service; the keychain
// classifies it as unavailable (ErrKeychain).
var errNoBus = errors.New("org.freedesktop.DBus.Error.ServiceUnknown: The name org.freedesktop.secrets was not provided by any .service files")

type cacheFixture struct {
	c *keyCache
	h *health
	k *memKeyring
}

// newCacheFixture is a key cache over an in-memory keychain holding
// cacheKey1 for "default"; now is the cache's clock (nil: time.Now).
func newCacheFixture(t *testing.T, ttl time.Duration, now func() time.Time) *cacheFixture {
	t.Helper()
	if now == nil {
		now = time.Now
	}
	k := newMemKeyring(map[string]string{"default": cacheKey1})
	kc := keychain.New(keychain.WithKeyring(k), keychain.WithTimeout(patience))
	h := newHealth(kc, time.Now, slog.New(slog.DiscardHandler))
	c := newKeyCache(kc, ttl, now, h)
	t.Cleanup(func() {
		c.mu.Lock()
		if c.sweep != nil {
			c.sweep.Stop()
		}
		c.mu.Unlock()
	})
	return &cacheFixture{c: c, h: h, k: k}
}

func (f *cacheFixture) get(t *testing.T, profile string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	return f.c.Get(ctx, profile)
}

func (f *cacheFixture) wantGets(t *testing.T, n int64, when string) {
	t.Helper()
	if got := f.k.gets.Load(); got != n {
		t.Fatalf("%s: %d keychain reads, want %d", when, got, n)
	}
}

func (f *cacheFixture) entry(profile string) (keyEntry, bool) {
	f.c.mu.RLock()
	defer f.c.mu.RUnlock()
	e, ok := f.c.keys[profile]
	return e, ok
}

// parkedIn counts the goroutines blocked in a select whose top frame is
// fn (as a stack trace names it; runtime frames are not shown).
func parkedIn(fn string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		lines := strings.SplitN(g, "\n", 3)
		if len(lines) > 1 && strings.Contains(lines[0], " [select") && strings.Contains(lines[1], fn) {
			count++
		}
	}
	return count
}

// waitUntil polls cond, failing t after patience.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(patience); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, patience)
		}
	}
}

// A key read once is served from memory: no keychain call at all, for a
// key and for "no key" alike.
func TestKeyCacheServesWarmKeyWithoutKeychain(t *testing.T) {
	t.Parallel()
	f := newCacheFixture(t, time.Minute, nil)
	if k, err := f.get(t, "default"); err != nil || k != cacheKey1 {
		t.Fatalf("first look-up: %s, %v", apikey.Hint(k), err)
	}
	f.wantGets(t, 1, "first look-up")
	for range 1000 {
		if k, err := f.get(t, "default"); err != nil || k != cacheKey1 {
			t.Fatalf("warm look-up: %s, %v", apikey.Hint(k), err)
		}
	}
	f.wantGets(t, 1, "1000 warm look-ups")

	for range 100 {
		if _, err := f.get(t, "work"); !errors.Is(err, storeerr.ErrNotFound) {
			t.Fatalf("a profile without a key: %v, want ErrNotFound", err)
		}
	}
	f.wantGets(t, 2, "100 look-ups of a profile without a key")

	// A write goes through and is what the cache serves next, unread.
	if err := f.c.Set(context.Background(), "work", cacheKey2); err != nil {
		t.Fatal(err)
	}
	if k, err := f.get(t, "work"); err != nil || k != cacheKey2 {
		t.Fatalf("after Set: %s, %v", apikey.Hint(k), err)
	}
	if err := f.c.Delete(context.Background(), "default"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.get(t, "default"); !errors.Is(err, storeerr.ErrNotFound) {
		t.Fatalf("after Delete: %v, want ErrNotFound", err)
	}
	f.wantGets(t, 2, "look-ups after writes")
	if n, m := f.k.sets.Load(), f.k.dels.Load(); n != 1 || m != 1 {
		t.Fatalf("%d sets and %d deletes reached the keychain, want 1 and 1", n, m)
	}
}

// Look-ups of one profile that arrive while it is being read share that
// one read. Not parallel: parkedIn counts every goroutine of the process
// in keyCache.Get, another test's included.
func TestKeyCacheOneKeychainCallForConcurrentGets(t *testing.T) {
	f := newCacheFixture(t, time.Minute, nil)
	release := f.k.holdReads()
	defer release()
	const n = 64
	errs := make(chan error, n)
	var started sync.WaitGroup
	for range n {
		started.Add(1)
		go func() {
			started.Done()
			k, err := f.get(t, "default")
			if err == nil && k != cacheKey1 {
				err = fmt.Errorf("got %s", apikey.Hint(k))
			}
			errs <- err
		}()
	}
	started.Wait()
	select {
	case <-f.k.entered:
	case <-time.After(patience):
		t.Fatal("no read reached the keychain")
	}
	// Every look-up has joined the read (none still on its way to it)
	// before it returns: one that came later would find the answer cached.
	waitUntil(t, "every look-up waiting on the read", func() bool { return parkedIn("daemon.(*keyCache).Get(") == n })
	release()
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	f.wantGets(t, 1, fmt.Sprintf("%d concurrent look-ups", n))
}

// A write that lands while a read is in flight is what the cache keeps:
// the read's answer, older than the write, is never cached over it. The
// read is held after the keychain answered and before the cache records
// the answer (its report to the health record, which had the keychain
// down, runs the change listeners: one of them waits).
func TestKeyCacheWriteDuringReadIsNotOverwritten(t *testing.T) {
	t.Parallel()
	writes := []struct {
		name  string
		write func(f *cacheFixture) error
		check func(t *testing.T, f *cacheFixture)
	}{
		{"set", func(f *cacheFixture) error { return f.c.Set(context.Background(), "default", cacheKey2) },
			func(t *testing.T, f *cacheFixture) {
				if k, err := f.get(t, "default"); err != nil || k != cacheKey2 {
					t.Fatalf("after the Set: %s, %v; want the key set", apikey.Hint(k), err)
				}
				f.wantGets(t, 1, "a look-up after the Set")
			}},
		{"delete", func(f *cacheFixture) error { return f.c.Delete(context.Background(), "default") },
			func(t *testing.T, f *cacheFixture) {
				if k, err := f.get(t, "default"); !errors.Is(err, storeerr.ErrNotFound) {
					t.Fatalf("after the Delete: %s, %v; want ErrNotFound", apikey.Hint(k), err)
				}
				f.wantGets(t, 1, "a look-up after the Delete")
			}},
		{"forget", func(f *cacheFixture) error {
			f.k.put("default", cacheKey2) // a migration wrote it
			f.c.forget("default")
			return nil
		}, func(t *testing.T, f *cacheFixture) {
			if k, err := f.get(t, "default"); err != nil || k != cacheKey2 {
				t.Fatalf("after forget: %s, %v; want the keychain read afresh", apikey.Hint(k), err)
			}
			f.wantGets(t, 2, "a look-up after forget")
		}},
	}
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			f := newCacheFixture(t, time.Minute, nil)
			held, resume := make(chan struct{}), make(chan struct{})
			var once, resumed sync.Once
			unblock := func() { resumed.Do(func() { close(resume) }) }
			t.Cleanup(unblock) // a failed test leaves no listener waiting
			f.h.onChange(func(err error) {
				if err == nil {
					once.Do(func() { close(held); <-resume })
				}
			})
			// Only the look-up's read may report the keychain back: the
			// health record is told a ping is already on its way, so none
			// comes (one that came first, a downEvery later on a loaded
			// machine, would be held in the read's place).
			f.h.mu.Lock()
			f.h.pinging = true
			f.h.mu.Unlock()
			f.h.note(&keychain.Error{Fault: keychain.FaultUnavailable, Reason: "test"})

			type answer struct {
				key string
				err error
			}
			got := make(chan answer, 1)
			go func() { k, err := f.get(t, "default"); got <- answer{k, err} }()
			select {
			case <-held:
			case <-time.After(patience):
				t.Fatal("harness: the read was never held")
			}
			select {
			case a := <-got:
				t.Fatalf("harness: the look-up returned (%s, %v) before the read was recorded", apikey.Hint(a.key), a.err)
			default:
			}
			f.wantGets(t, 1, "the held read")
			if err := w.write(f); err != nil {
				t.Fatal(err)
			}
			unblock()
			if a := <-got; a.err != nil || a.key != cacheKey1 {
				t.Fatalf("the look-up that raced the write: %s, %v; want the key it read", apikey.Hint(a.key), a.err)
			}
			w.check(t, f)
		})
	}
}

// A keychain failure is answered from memory for at most failTTL (so a
// dead keychain is not asked by every look-up), and forgotten the moment
// the keychain is known to be back: by any keychain call succeeding, or
// by the health record's ping.
func TestKeyCacheFailuresCachedBriefly(t *testing.T) {
	t.Parallel()
	c := &clock{t: t0}
	f := newCacheFixture(t, time.Minute, c.Now)
	// This part is about the cache's own bound: the health record is told
	// a ping is already on its way, so none comes to report the keychain
	// (whose pings always succeed here) back in the middle of it.
	f.h.mu.Lock()
	f.h.pinging = true
	f.h.mu.Unlock()
	f.k.fail(errNoBus)
	for range 10 {
		if _, err := f.get(t, "default"); !errors.Is(err, storeerr.ErrKeychain) || errors.Is(err, storeerr.ErrNotFound) {
			t.Fatalf("look-up with the keychain down: %v, want ErrKeychain", err)
		}
	}
	f.wantGets(t, 1, "look-ups with the keychain down")
	c.Add(failTTL - 100*time.Millisecond)
	_, _ = f.get(t, "default")
	f.wantGets(t, 1, "a look-up just under failTTL later")
	c.Add(200 * time.Millisecond)
	_, _ = f.get(t, "default")
	f.wantGets(t, 2, "a look-up just over failTTL later")

	t.Run("a keychain call succeeds", func(t *testing.T) {
		f := newCacheFixture(t, time.Minute, c.Now)
		f.k.fail(errNoBus)
		_, _ = f.get(t, "default")
		f.k.fail(nil)
		// Another profile's write succeeds: the keychain is back, and the
		// cached failure goes at once (the cache's clock stands still).
		if err := f.c.Set(context.Background(), "work", cacheKey2); err != nil {
			t.Fatal(err)
		}
		if k, err := f.get(t, "default"); err != nil || k != cacheKey1 {
			t.Fatalf("look-up once the keychain is back: %s, %v", apikey.Hint(k), err)
		}
		f.wantGets(t, 2, "the look-up after the keychain came back")
	})

	t.Run("the ping", func(t *testing.T) {
		f := newCacheFixture(t, time.Minute, c.Now)
		f.k.fail(errNoBus)
		_, _ = f.get(t, "default")
		f.k.fail(nil)
		// The cache's clock stands still: only the health record's ping
		// (every downEvery while the keychain is down) can end the failure.
		start := time.Now()
		waitUntil(t, "the keychain's return noticed", func() bool {
			k, err := f.get(t, "default")
			return err == nil && k == cacheKey1
		})
		t.Logf("the keychain's return reached look-ups after %s (ping every %s)", time.Since(start), downEvery)
		f.wantGets(t, 2, "look-ups until the keychain came back")
	})
}

// An idle cache wakes only for its one sweep, which forgets keys past
// their TTL and then arms nothing: no re-reads, no renewals, no pings.
func TestKeyCacheIdleForgetsExpiredKeys(t *testing.T) {
	t.Parallel()
	f := newCacheFixture(t, 60*time.Millisecond, nil)
	if _, err := f.get(t, "default"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the expired key forgotten", func() bool {
		_, ok := f.entry("default")
		return !ok
	})
	time.Sleep(300 * time.Millisecond) // five TTLs of idling
	f.wantGets(t, 1, "an idle cache")
	f.c.mu.RLock()
	n, sweep := len(f.c.keys), f.c.sweep
	f.c.mu.RUnlock()
	if n != 0 || sweep != nil {
		t.Fatalf("idle and empty: %d entries, sweep armed %v; want none", n, sweep != nil)
	}
	f.h.mu.Lock()
	pinging := f.h.pinging
	f.h.mu.Unlock()
	if pinging {
		t.Fatal("the health record pings a keychain that is up")
	}
}

// However many profiles are cached, one timer sweeps them, and it forgets
// each profile once its own TTL passed.
func TestKeyCacheOneSweepTimer(t *testing.T) {
	t.Parallel()
	c := &clock{t: t0}
	f := newCacheFixture(t, time.Minute, c.Now)
	if _, err := f.get(t, "default"); err != nil {
		t.Fatal(err)
	}
	f.c.mu.RLock()
	first := f.c.sweep
	f.c.mu.RUnlock()
	if first == nil {
		t.Fatal("a cached key arms no sweep: it would stay in memory for ever")
	}
	for i := range 100 {
		_, _ = f.get(t, fmt.Sprintf("p%d", i))
	}
	c.Add(30 * time.Second)
	_, _ = f.get(t, "late")
	f.c.mu.RLock()
	same := f.c.sweep == first
	f.c.mu.RUnlock()
	if !same {
		t.Fatal("caching more profiles armed another timer")
	}

	c.Add(31 * time.Second) // the first 101 are past the TTL, "late" is not
	f.c.forgetExpired()
	f.c.mu.RLock()
	n, armed := len(f.c.keys), f.c.sweep != nil
	f.c.mu.RUnlock()
	if _, ok := f.entry("late"); !ok || n != 1 || !armed {
		t.Fatalf("after the first sweep: %d entries (late kept %v), re-armed %v; want late alone, re-armed", n, ok, armed)
	}
	c.Add(30 * time.Second)
	f.c.forgetExpired()
	f.c.mu.RLock()
	n, armed = len(f.c.keys), f.c.sweep != nil
	f.c.mu.RUnlock()
	if n != 0 || armed {
		t.Fatalf("after the last key expired: %d entries, re-armed %v; want none", n, armed)
	}
	before := f.k.gets.Load()
	_, _ = f.get(t, "default")
	f.wantGets(t, before+1, "a look-up of a forgotten key")
}

// A look-up finding its answer past two thirds of the TTL is served from
// memory at once and renews it in the background; past the TTL it waits
// for a fresh read. No answer is ever older than the TTL.
func TestKeyCacheRenewsPastTwoThirds(t *testing.T) {
	t.Parallel()
	c := &clock{t: t0}
	f := newCacheFixture(t, time.Minute, c.Now)
	if _, err := f.get(t, "default"); err != nil {
		t.Fatal(err)
	}
	c.Add(30 * time.Second)
	if _, err := f.get(t, "default"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	f.wantGets(t, 1, "a look-up at half the TTL")

	// Changed behind the daemon's back; a look-up at 45 s gets the cached
	// key without waiting and starts a renewal.
	f.k.put("default", cacheKey2)
	c.Add(15 * time.Second)
	if k, _ := f.get(t, "default"); k != cacheKey1 {
		t.Fatal("past two thirds of the TTL: the look-up waited for the keychain")
	}
	// Waiting on the cache's entry, not with look-ups: a look-up that read
	// the old entry just before the renewal recorded the new one would
	// start a renewal of its own (the old entry is past two thirds).
	waitUntil(t, "the renewal", func() bool { e, ok := f.entry("default"); return ok && e.key == cacheKey2 })
	if k, _ := f.get(t, "default"); k != cacheKey2 {
		t.Fatalf("after the renewal: %s, want the renewed key", apikey.Hint(k))
	}
	f.wantGets(t, 2, "one renewal")

	// Past the TTL with no look-up in between: the next one reads first.
	f.k.put("default", cacheKey1)
	c.Add(2 * time.Minute)
	if k, _ := f.get(t, "default"); k != cacheKey1 {
		t.Fatal("an expired answer was served")
	}
	f.wantGets(t, 3, "a look-up past the TTL")
}

// Look-ups past two thirds of the TTL while the renewal is still reading
// share that renewal: a busy daemon does not queue a keychain read per
// look-up (each would wait for the keychain's one slot, and those that
// time out would cache a failure over a good key).
func TestKeyCacheOneRenewalAtATime(t *testing.T) {
	t.Parallel()
	c := &clock{t: t0}
	f := newCacheFixture(t, time.Minute, c.Now)
	if _, err := f.get(t, "default"); err != nil {
		t.Fatal(err)
	}
	c.Add(45 * time.Second)
	release := f.k.holdReads()
	defer release()
	for range 50 {
		if k, err := f.get(t, "default"); err != nil || k != cacheKey1 {
			t.Fatalf("look-up during the renewal: %s, %v", apikey.Hint(k), err)
		}
	}
	select {
	case <-f.k.entered:
	case <-time.After(patience):
		t.Fatal("no renewal reached the keychain")
	}
	time.Sleep(50 * time.Millisecond)
	release()
	waitUntil(t, "the renewal recorded", func() bool {
		e, ok := f.entry("default")
		return ok && e.at.Equal(t0.Add(45*time.Second))
	})
	time.Sleep(100 * time.Millisecond) // any other queued renewal would read now
	f.wantGets(t, 2, "50 look-ups during one renewal")
}

// A look-up whose caller gives up while the keychain is being read ends at
// once with a keychain timeout, never "no key"; the read still completes
// and serves the next look-up.
func TestKeyCacheAbandonedLookUp(t *testing.T) {
	t.Parallel()
	f := newCacheFixture(t, time.Minute, nil)
	release := f.k.holdReads()
	defer release()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := f.c.Get(ctx, "default"); done <- err }()
	<-f.k.entered
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, storeerr.ErrKeychain) || errors.Is(err, storeerr.ErrNotFound) {
			t.Fatalf("abandoned look-up: %v, want a keychain timeout", err)
		}
	case <-time.After(patience):
		t.Fatal("an abandoned look-up waited for the keychain")
	}
	release()
	waitUntil(t, "the read recorded", func() bool { _, ok := f.entry("default"); return ok })
	if k, err := f.get(t, "default"); err != nil || k != cacheKey1 {
		t.Fatalf("next look-up: %s, %v", apikey.Hint(k), err)
	}
	f.wantGets(t, 1, "after an abandoned look-up")
}

// A caller that gives up on a write or a health check (a client that hung
// up, whose request context is cancelled) says nothing about the
// keychain: the health record must not call that an outage.
func TestAbandonedCallsAreNotOutages(t *testing.T) {
	t.Parallel()
	f := newCacheFixture(t, time.Minute, nil)
	var changes atomic.Int64
	f.h.onChange(func(error) { changes.Add(1) })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 20 {
		_ = f.c.Set(ctx, "default", cacheKey2)
		_ = f.c.Delete(ctx, "default")
		_ = f.c.Ping(ctx)
		f.h.mu.Lock()
		f.h.at = time.Time{} // so the next Ping asks the keychain
		f.h.mu.Unlock()
	}
	f.h.mu.Lock()
	down := f.h.err
	f.h.mu.Unlock()
	if down != nil || changes.Load() != 0 {
		t.Fatalf("after abandoned calls the keychain is reported down (%v), %d changes", down, changes.Load())
	}
}
