package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
)

// healthFixture is a health record over an in-memory keychain whose calls
// time out after timeout, with its listeners' calls and its clock's reads
// (one per report: a ping shows up as one) counted.
type healthFixture struct {
	h     *health
	k     *memKeyring
	kc    *keychain.Keychain
	log   *lockedBuffer
	nows  atomic.Int64
	ups   atomic.Int64
	mu    sync.Mutex
	calls []error // onChange's arguments, in order
}

func newHealthFixture(t *testing.T, now func() time.Time, timeout time.Duration) *healthFixture {
	t.Helper()
	if now == nil {
		now = time.Now
	}
	f := &healthFixture{k: newMemKeyring(map[string]string{}), log: &lockedBuffer{}}
	f.kc = keychain.New(keychain.WithKeyring(f.k), keychain.WithTimeout(timeout))
	f.h = newHealth(f.kc, func() time.Time { f.nows.Add(1); return now() }, slog.New(slog.NewTextHandler(f.log, nil)))
	f.h.onUp(func() { f.ups.Add(1) })
	f.h.onChange(func(err error) { f.mu.Lock(); f.calls = append(f.calls, err); f.mu.Unlock() })
	return f
}

func (f *healthFixture) changes() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var s []string
	for _, e := range f.calls {
		if e == nil {
			s = append(s, "up")
		} else {
			s = append(s, "down")
		}
	}
	return strings.Join(s, ",")
}

// hang makes the keychain stop answering: a read holds its one slot until
// the returned func is called, so every other call times out. It waits
// the fixture's timeout once.
func (f *healthFixture) hang(t *testing.T) (release func(), timeout error) {
	t.Helper()
	release = f.k.holdReads()
	t.Cleanup(release)
	_, err := f.kc.Get(context.Background(), "stuck")
	if !errors.Is(err, storeerr.ErrKeychain) {
		t.Fatalf("harness: a hung read answered %v, want a keychain timeout", err)
	}
	return release, err
}

// While the keychain is down the health record pings it every downEvery
// (and tells its listeners once, not per ping); once it answers, the
// listeners hear it is back, and from then on nothing pings at all.
func TestHealthPingsOnlyWhileDown(t *testing.T) {
	t.Parallel()
	// 100 ms: hang waits it once. A ping that misses it on a loaded
	// machine counts as the keychain still down; the next one tries again.
	f := newHealthFixture(t, nil, 100*time.Millisecond)
	release, err := f.hang(t)
	f.h.note(err)
	if got := f.changes(); got != "down" {
		t.Fatalf("listeners after the keychain failed: %q, want down", got)
	}
	// Pings keep coming while it is down (a second one shows the re-arm),
	// and never closer together than downEvery: in any stretch of time L
	// at most L/downEvery + 1 of them.
	from, before := time.Now(), f.nows.Load()
	waitUntil(t, "two pings during the outage", func() bool { return f.nows.Load()-before >= 2 })
	if pings, most := f.nows.Load()-before, int64(time.Since(from)/downEvery)+1; pings > most {
		t.Fatalf("%d pings in %s of outage; want at most one per %s", pings, time.Since(from), downEvery)
	}
	if got, n := f.changes(), f.ups.Load(); got != "down" || n != 0 {
		t.Fatalf("during the outage: listeners %q, onUp %d times; want down once, no onUp", got, n)
	}
	// A check while down answers from memory, without asking the keychain:
	// it reads the clock once (a ping it made would be noted: twice) and
	// answers what was noted last. A background ping in between blurs both;
	// that is told apart by trying again, which a check that pings fails
	// every time.
	remembered := &keychain.Error{Fault: keychain.FaultUnavailable, Reason: "remembered"}
	for try := 1; ; try++ {
		f.h.note(remembered)
		n0 := f.nows.Load()
		err := f.h.check(context.Background())
		if f.nows.Load()-n0 == 1 {
			if err != remembered {
				t.Fatalf("check during the outage: %v, want what was noted (%v)", err, remembered)
			}
			break
		}
		if try == 5 {
			t.Fatal("check during the outage asked the keychain, five times running")
		}
	}

	release()
	waitUntil(t, "the keychain's return noticed", func() bool { return f.ups.Load() == 1 })
	if got := f.changes(); got != "down,up" {
		t.Fatalf("listeners: %q, want down,up", got)
	}
	log := f.log.String()
	if strings.Count(log, "keychain unavailable") != 1 || !strings.Contains(log, "keychain available again") {
		t.Fatalf("want one line for the outage and one for the return:\n%s", log)
	}

	idle := f.nows.Load()
	time.Sleep(3 * downEvery)
	if n := f.nows.Load() - idle; n != 0 {
		t.Fatalf("%d pings while the keychain was up; want none", n)
	}
	f.h.mu.Lock()
	pinging := f.h.pinging
	f.h.mu.Unlock()
	if pinging {
		t.Fatal("a ping is still scheduled while the keychain is up")
	}
	if got := f.changes(); got != "down,up" {
		t.Fatalf("listeners while idle: %q", got)
	}
}

// check answers from what the last keychain call said while that is
// younger than healthEvery, and asks the keychain once it is older.
func TestHealthCheckAgesOut(t *testing.T) {
	t.Parallel()
	c := &clock{t: t0}
	f := newHealthFixture(t, c.Now, patience)
	if err := f.h.check(context.Background()); err != nil {
		t.Fatalf("first check: %v", err)
	}
	at := func() time.Time { f.h.mu.Lock(); defer f.h.mu.Unlock(); return f.h.at }
	if !at().Equal(t0) {
		t.Fatalf("first check recorded %v, want a ping at %v", at(), t0)
	}
	c.Add(healthEvery - time.Second)
	if err := f.h.check(context.Background()); err != nil || !at().Equal(t0) {
		t.Fatalf("a check within healthEvery: %v, state of %v; want the remembered one", err, at())
	}
	c.Add(2 * time.Second)
	if err := f.h.check(context.Background()); err != nil || !at().Equal(c.Now()) {
		t.Fatalf("a check past healthEvery: %v, state of %v; want a fresh ping at %v", err, at(), c.Now())
	}
	if got := f.changes(); got != "" {
		t.Fatalf("listeners of a keychain that never went away: %q", got)
	}
}

// Answers are not outages: "no key", a bad key and the like say the
// keychain works, so they neither count as down nor start pinging.
func TestHealthAnswersAreNotOutages(t *testing.T) {
	t.Parallel()
	f := newHealthFixture(t, nil, patience)
	for _, err := range []error{nil, storeerr.ErrNotFound, &credstore.NoKeyError{Profile: "default"},
		fmt.Errorf("%w: too short", apikey.ErrBadKey), credstore.ErrBadProfile} {
		f.h.note(err)
	}
	f.h.mu.Lock()
	down, pinging := f.h.err, f.h.pinging
	f.h.mu.Unlock()
	if down != nil || pinging || f.changes() != "" || f.ups.Load() != 0 {
		t.Fatalf("after answers: err %v, pinging %v, listeners %q; want up, quiet", down, pinging, f.changes())
	}
	if err := f.h.check(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// A daemon whose every profile reads a store beyond this machine (a
// headless service on systemd credentials) needs no keychain: one that
// does not answer is said as such, not as an outage with a fix to make;
// the profile back on the keychain makes it an outage again.
func TestKeychainNotNeeded(t *testing.T) {
	home := t.TempDir()
	log := &lockedBuffer{}
	d, err := New(Config{
		Keychain:   keychain.New(keychain.WithKeyring(newMemKeyring(map[string]string{}))),
		ConfigPath: filepath.Join(home, ".torale", "config.json"),
		StateDir:   filepath.Join(home, "state"),
		Logger:     slog.New(slog.NewTextHandler(log, nil)),
		NoHarden:   true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if !d.keychainNeeded() {
		t.Fatal("a profile with no store of its own needs no keychain?")
	}
	if _, err := d.store.SetStore(ctx, credstore.DefaultProfile, credstore.StoreSpec{Kind: credstore.StoreCredentials}, false, nil); err != nil {
		t.Fatal(err)
	}
	if d.keychainNeeded() {
		t.Fatal("every profile reads systemd credentials, yet the keychain is needed")
	}
	d.health.note(fmt.Errorf("%w: no D-Bus session bus", storeerr.ErrKeychain))
	if got := log.String(); !strings.Contains(got, msgKeychainNotNeeded) || strings.Contains(got, "answer 503") {
		t.Fatalf("log: %s", got)
	}
	d.health.note(nil)
	if _, err := d.store.SetStore(ctx, credstore.DefaultProfile, credstore.StoreSpec{Kind: credstore.StoreKeychain}, false, nil); err != nil {
		t.Fatal(err)
	}
	d.health.note(fmt.Errorf("%w: no D-Bus session bus", storeerr.ErrKeychain))
	if got := log.String(); !strings.Contains(got, "answer 503") {
		t.Fatalf("a profile on the keychain, and no outage said: %s", got)
	}
}
