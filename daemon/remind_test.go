package daemon

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/internal/toraleapi/fakeapi"
)

const testKey = "sk_abc123def456ghi789jkl012mno345pqRST"

// memBackend is an in-memory keychain for these pure unit tests; err,
// when set, is every call's answer (a keychain that cannot be reached).
type memBackend struct {
	mu  sync.Mutex
	m   map[string]string
	err error
}

func (b *memBackend) fail(err error) { b.mu.Lock(); b.err = err; b.mu.Unlock() }

func (b *memBackend) Get(s, u string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return "", b.err
	}
	v, ok := b.m[s+"/"+u]
	if !ok {
		return "", keyring.ErrNotFound
	}
	return v, nil
}

func (b *memBackend) Set(s, u, p string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return b.err
	}
	b.m[s+"/"+u] = p
	return nil
}

func (b *memBackend) Delete(s, u string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return b.err
	}
	delete(b.m, s+"/"+u)
	return nil
}

// clock is a settable wall clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type notified struct {
	mu    sync.Mutex
	calls []string // title + "\n" + body
	err   error
}

func (n *notified) Notify(_ context.Context, title, body string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.calls = append(n.calls, title+"\n"+body)
	return n.err
}

func (n *notified) take() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := n.calls
	n.calls = nil
	return c
}

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

type fixture struct {
	store *credstore.Store
	keys  *memBackend
	clock *clock
	notes *notified
	logs  *bytes.Buffer
	r     *Reminder
}

// newFixture stores testKey for "default" at storedAt and builds a
// reminder (offline unless told) at t0.
func newFixture(t *testing.T, storedAt time.Time) *fixture {
	t.Helper()
	return newFixtureWith(t, storedAt, testKey, credstore.PutOptions{Source: credstore.SourceLogin})
}

// newFixtureWith stores key for "default" with o at storedAt and builds a
// reminder (offline unless told) at t0.
func newFixtureWith(t *testing.T, storedAt time.Time, key string, o credstore.PutOptions) *fixture {
	t.Helper()
	c := &clock{t: storedAt}
	mem := &memBackend{m: map[string]string{}}
	st := &credstore.Store{
		Keychain:  keychain.New(keychain.WithKeyring(mem)),
		StateFile: credstore.StateFile{Dir: t.TempDir()},
		Now:       c.Now,
	}
	if _, err := st.Put(context.Background(), "default", key, o); err != nil {
		t.Fatal(err)
	}
	c.Set(t0)
	f := &fixture{store: st, keys: mem, clock: c, notes: &notified{}, logs: &bytes.Buffer{}}
	f.r = f.reminder()
	return f
}

// reminder is a fresh Reminder over the same store: a daemon restart.
func (f *fixture) reminder() *Reminder {
	return &Reminder{Store: f.store, Notify: f.notes.Notify, Now: f.clock.Now, Offline: true,
		Logger: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
}

func (f *fixture) profile(t *testing.T) credstore.Profile {
	t.Helper()
	s, err := f.store.StateFile.Load()
	if err != nil {
		t.Fatal(err)
	}
	return *s.Profiles["default"]
}

func (f *fixture) expect(t *testing.T, n int, contains string) {
	t.Helper()
	got := f.notes.take()
	if len(got) != n {
		t.Fatalf("%d notifications, want %d: %q", len(got), n, got)
	}
	for _, g := range got {
		if !strings.Contains(g, contains) {
			t.Fatalf("notification %q lacks %q", g, contains)
		}
		if strings.Contains(g, testKey) {
			t.Fatal("a notification shows the key")
		}
	}
}

const day = 24 * time.Hour

func TestNotDue(t *testing.T) {
	t.Parallel()
	f := newFixture(t, t0.Add(-10*day))
	next := f.r.Check(context.Background())
	f.expect(t, 0, "")
	if want := t0.Add(time.Hour); !next.Equal(want) {
		t.Fatalf("next = %v, want the hourly cap %v", next, want)
	}
	f.r.MaxSleep = 365 * day
	if next, want := f.r.Check(context.Background()), t0.Add(-10*day).Add(83*day); !next.Equal(want) {
		t.Fatalf("next = %v, want the early notice %v", next, want)
	}
	if p := f.profile(t); p.LastRemindedAt != nil {
		t.Fatalf("last_reminded_at set without a reminder: %v", p.LastRemindedAt)
	}
}

func TestEarlyNoticeOnce(t *testing.T) {
	t.Parallel()
	stored := t0.Add(-85 * day) // due in 5 days
	f := newFixture(t, stored)
	f.r.MaxSleep = 365 * day
	next := f.r.Check(context.Background())
	f.expect(t, 1, "due in 5 days")
	if want := stored.Add(90 * day); !next.Equal(want) {
		t.Fatalf("next = %v, want the due date %v", next, want)
	}
	if p := f.profile(t); p.LastRemindedAt == nil || !p.LastRemindedAt.Equal(t0) {
		t.Fatalf("last_reminded_at = %v, want %v", p.LastRemindedAt, t0)
	}
	for _, d := range []time.Duration{time.Hour, day, 4 * day} {
		f.clock.Set(t0.Add(d))
		f.r.Check(context.Background())
		f.expect(t, 0, "")
	}
	// A restart during the early window stays quiet too.
	f.clock.Set(t0.Add(2 * day))
	f.reminder().Check(context.Background())
	f.expect(t, 0, "")
	// The due date brings the first due reminder at once.
	f.clock.Set(stored.Add(90 * day))
	f.r.Check(context.Background())
	f.expect(t, 1, "Rotate your Torale API key")
	if !strings.Contains(f.logs.String(), "rotation was due on 2026-03-06") {
		t.Fatalf("no log line for the due reminder:\n%s", f.logs)
	}
}

func TestDueOnceADayPersistedAcrossRestart(t *testing.T) {
	t.Parallel()
	stored := t0.Add(-91 * day)
	f := newFixture(t, stored)
	next := f.r.Check(context.Background())
	f.expect(t, 1, `The key sk_...pqRST (profile "default") is 91 days old; rotation was due on 2026-02-28`)
	if want := t0.Add(time.Hour); !next.Equal(want) {
		t.Fatalf("next = %v, want %v", next, want)
	}
	f.r.MaxSleep = 365 * day
	if next, want := f.r.Check(context.Background()), t0.Add(day); !next.Equal(want) {
		t.Fatalf("next = %v, want a day after the reminder %v", next, want)
	}
	f.expect(t, 0, "")
	// Hourly wake-ups for the rest of the day: nothing.
	for h := 1; h < 24; h++ {
		f.clock.Set(t0.Add(time.Duration(h) * time.Hour))
		f.r.Check(context.Background())
	}
	f.expect(t, 0, "")
	// A restart (fresh memory) 2 h later: nothing, state.json remembers.
	f.clock.Set(t0.Add(2 * time.Hour))
	restarted := f.reminder()
	restarted.Check(context.Background())
	f.expect(t, 0, "")
	// 24 h after the first: the next one, once.
	f.clock.Set(t0.Add(day))
	restarted.Check(context.Background())
	restarted.Check(context.Background())
	f.expect(t, 1, "92 days old")
}

func TestClockJumps(t *testing.T) {
	t.Parallel()
	stored := t0.Add(-100 * day)
	f := newFixture(t, stored)
	f.r.Check(context.Background())
	f.expect(t, 1, "100 days old")

	// Forward (suspend for a week, or a clock fix): one reminder, not seven.
	f.clock.Set(t0.Add(7 * day))
	f.r.Check(context.Background())
	f.r.Check(context.Background())
	f.expect(t, 1, "107 days old")

	// Back by three days: the last reminder is in the future. No burst,
	// and no silence until the clock catches up: the next comes 24 h
	// after the jump.
	f.clock.Set(t0.Add(4 * day))
	f.r.Check(context.Background())
	f.expect(t, 0, "")
	if p := f.profile(t); p.LastRemindedAt == nil || !p.LastRemindedAt.Equal(t0.Add(4*day)) {
		t.Fatalf("last_reminded_at = %v after the jump back, want it clamped to now", p.LastRemindedAt)
	}
	f.clock.Set(t0.Add(4*day + 23*time.Hour))
	f.reminder().Check(context.Background())
	f.expect(t, 0, "")
	f.clock.Set(t0.Add(5 * day))
	f.reminder().Check(context.Background())
	f.expect(t, 1, "105 days old")
}

func TestCreatedAtWinsOverStoredAt(t *testing.T) {
	t.Parallel()
	f := newFixture(t, t0.Add(-time.Hour)) // stored just now...
	created := t0.Add(-95 * day)           // ...but created long ago
	if err := f.store.StateFile.Update(func(s *credstore.State) error {
		s.Profiles["default"].CreatedAt = &created
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	f.r.Check(context.Background())
	f.expect(t, 1, "95 days old")
}

func TestPeriodConfigurable(t *testing.T) {
	t.Parallel()
	f := newFixture(t, t0.Add(-31*day))
	f.r.Check(context.Background())
	f.expect(t, 0, "")
	f.r.Period = 30 * day
	f.r.Check(context.Background())
	f.expect(t, 1, "31 days old")

	// A tiny period has its early notice at half of it.
	g := newFixture(t, t0.Add(-3*time.Hour))
	g.r.Period = 4 * time.Hour
	g.r.Check(context.Background())
	g.expect(t, 1, "due in 1 day")
}

func TestNewKeyStartsAfresh(t *testing.T) {
	t.Parallel()
	f := newFixture(t, t0.Add(-91*day))
	f.r.Check(context.Background())
	f.expect(t, 1, "91 days old")
	other := "sk_ZYXwvu987654321zyxwvu987654321ABCDE"
	f.store.Now = f.clock.Now
	if _, err := f.store.Put(context.Background(), "default", other, credstore.PutOptions{Source: credstore.SourceRotate}); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(time.Hour)
	f.r.Check(context.Background())
	f.expect(t, 0, "")
	// 83 days on, the new key's early notice comes although the process
	// reminded about the old key recently.
	f.clock.Set(t0.Add(83 * day))
	f.r.Check(context.Background())
	f.expect(t, 1, "sk_...ABCDE")
}

func TestNotifyFailureIsLoggedAndNotRetried(t *testing.T) {
	t.Parallel()
	f := newFixture(t, t0.Add(-91*day))
	f.notes.err = errors.New("bus broke")
	f.r.Check(context.Background())
	f.r.Check(context.Background())
	f.expect(t, 1, "91 days old")
	if !strings.Contains(f.logs.String(), "desktop notification failed") || !strings.Contains(f.logs.String(), "bus broke") {
		t.Fatalf("logs:\n%s", f.logs)
	}
}

func TestUnwritableStateStillOncePerDay(t *testing.T) {
	t.Parallel()
	f := newFixture(t, t0.Add(-91*day))
	// state.json stays readable, but every update fails to take its lock
	// (a directory where the lock file goes defeats even root).
	lock := filepath.Join(f.store.StateFile.Dir, "state.lock")
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(lock, 0o700); err != nil {
		t.Fatal(err)
	}
	f.r.Check(context.Background())
	f.r.Check(context.Background())
	f.expect(t, 1, "91 days old")
	if !strings.Contains(f.logs.String(), "cannot record the reminder") {
		t.Fatalf("logs:\n%s", f.logs)
	}
}

// overHTTPS serves h on a loopback https address that this process
// trusts, as the daemon sends a key on its own only to https URLs. The
// reminder's client uses http.DefaultTransport, which is swapped for the
// test's: a test that calls it must not be parallel.
func overHTTPS(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	ts := httptest.NewTLSServer(h)
	old := http.DefaultTransport
	http.DefaultTransport = ts.Client().Transport
	t.Cleanup(func() { http.DefaultTransport = old; ts.Close() })
	return ts
}

func TestLookupCreatedAtFromServer(t *testing.T) {
	for _, m := range []fakeapi.Mode{fakeapi.Documented, fakeapi.Live} {
		t.Run(m.String(), func(t *testing.T) {
			api := fakeapi.New(t, m)
			ts := overHTTPS(t, api.Config.Handler)
			created := t0.Add(-92 * day)
			key, id := api.AddKey("CLI Key", created)
			// Stored 84 days ago (by its own clock, an early notice would be
			// due now), created 92 days ago: the look-up makes it overdue.
			f := newFixtureWith(t, t0.Add(-84*day), key, credstore.PutOptions{Source: credstore.SourceLogin, APIURL: &ts.URL})
			f.r.Offline = false
			f.r.Check(context.Background())
			f.expect(t, 1, "92 days old")
			p := f.profile(t)
			if p.CreatedAt == nil || !p.CreatedAt.Equal(created) || p.KeyID == nil || *p.KeyID != id {
				t.Fatalf("metadata after look-up: created_at %v key_id %v; want %v %s", p.CreatedAt, p.KeyID, created, id)
			}
			// Known now: never asked again.
			f.clock.Add(7 * time.Hour)
			f.reminder().Check(context.Background())
			if n := api.Count("GET", "/auth/api-keys"); n != 1 {
				t.Fatalf("%d look-ups, want 1", n)
			}
		})
	}
}

func TestLookupFailureFallsBackQuietly(t *testing.T) {
	api := fakeapi.New(t, fakeapi.Documented)
	ts := overHTTPS(t, api.Config.Handler)
	// Due in 5 days, so the look-up is worth making; the key is unknown
	// to the server: 401.
	f := newFixtureWith(t, t0.Add(-85*day), testKey, credstore.PutOptions{Source: credstore.SourceLogin, APIURL: &ts.URL})
	f.r.Offline = false
	f.r.Check(context.Background())
	f.expect(t, 1, "due in 5 days") // from stored_at, as if nothing had been asked
	if p := f.profile(t); p.CreatedAt != nil {
		t.Fatalf("created_at = %v", p.CreatedAt)
	}
	if n := api.Count("GET", "/auth/api-keys"); n != 1 {
		t.Fatalf("%d look-ups, want 1", n)
	}
	// Not retried every wake-up, but after LookupRetry.
	f.clock.Add(time.Hour)
	f.r.Check(context.Background())
	if n := api.Count("GET", "/auth/api-keys"); n != 1 {
		t.Fatalf("%d look-ups within an hour, want 1", n)
	}
	f.clock.Add(LookupRetry)
	f.r.Check(context.Background())
	if n := api.Count("GET", "/auth/api-keys"); n != 2 {
		t.Fatalf("%d look-ups after LookupRetry, want 2", n)
	}
	// Unreachable server: same, no error anywhere.
	ts.Close()
	f.clock.Add(LookupRetry)
	f.r.Check(context.Background())
	f.expect(t, 0, "")
	if n := strings.Count(f.logs.String(), "created_at look-up failed"); n != 3 || !strings.Contains(f.logs.String(), "cannot reach") {
		t.Fatalf("%d failed look-ups logged, want 3, the last unreachable:\n%s", n, f.logs)
	}
	if strings.Contains(f.logs.String(), "level=WARN") || strings.Contains(f.logs.String(), "level=ERROR") {
		t.Fatalf("a failed look-up was logged above debug:\n%s", f.logs)
	}
}

// A profile whose key is gone from the keychain (removed with another
// tool; its metadata stayed) has nothing to rotate: no reminder, and
// nothing recorded. A keychain that cannot answer is not "gone": the
// reminder still comes.
func TestNoReminderForAKeyGoneFromTheKeychain(t *testing.T) {
	t.Parallel()
	f := newFixture(t, t0.Add(-91*day))
	if err := f.store.Keychain.Delete(context.Background(), "default"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		f.r.Check(context.Background())
		f.clock.Add(RemindEvery)
	}
	f.expect(t, 0, "")
	if p := f.profile(t); p.LastRemindedAt != nil {
		t.Fatalf("last_reminded_at = %v for a key that is gone", p.LastRemindedAt)
	}
	// The key back (same key, so the metadata is about it): reminded.
	if err := f.store.Keychain.Set(context.Background(), "default", testKey); err != nil {
		t.Fatal(err)
	}
	f.r.Check(context.Background())
	f.expect(t, 1, "94 days old")

	g := newFixture(t, t0.Add(-91*day))
	g.keys.fail(errors.New("org.freedesktop.DBus.Error.ServiceUnknown"))
	g.r.Check(context.Background())
	g.expect(t, 1, "91 days old")
}

// Issue 25: a key created 100 days before it was stored (migrated from
// config.json, logged in late) was reported as "stored 0 days ago, rotate
// in 89 days" until the reminder came near. The server is asked as soon as
// the key is stored, once; a restart asks nothing more, and a new key is
// asked at once, whatever became of the last key's look-up.
func TestCreatedAtLookedUpWhenFirstStored(t *testing.T) {
	api := fakeapi.New(t, fakeapi.Documented)
	ts := overHTTPS(t, api.Config.Handler)
	created := t0.Add(-100 * day)
	key, _ := api.AddKey("CLI Key", created)
	f := newFixtureWith(t, t0, key, credstore.PutOptions{Source: credstore.SourceLogin, APIURL: &ts.URL})
	f.r.Offline = false
	f.r.Check(context.Background())
	if n := api.Count("GET", "/auth/api-keys"); n != 1 {
		t.Fatalf("%d look-ups on the first check after storing, want 1", n)
	}
	p := f.profile(t)
	if p.CreatedAt == nil || !p.CreatedAt.Equal(created) {
		t.Fatalf("created_at = %v, want %v", p.CreatedAt, created)
	}
	if rot := credstore.RotationOf(p, 0, t0); rot.AgeDays != 100 || !rot.Due {
		t.Fatalf("rotation %+v, want 100 days old and due", rot)
	}
	f.expect(t, 1, "100 days old")
	restarted := f.reminder()
	restarted.Offline = false
	restarted.Check(context.Background())
	if n := api.Count("GET", "/auth/api-keys"); n != 1 {
		t.Fatalf("%d look-ups after a restart, want still 1", n)
	}

	// A key the server does not know: asked once, then not for LookupRetry...
	if _, err := f.store.Put(context.Background(), "default", testKey, credstore.PutOptions{Source: credstore.SourceLogin, APIURL: &ts.URL}); err != nil {
		t.Fatal(err)
	}
	f.r.Check(context.Background())
	f.r.Check(context.Background())
	if n := api.Count("GET", "/auth/api-keys"); n != 2 {
		t.Fatalf("%d look-ups, want 2", n)
	}
	// ...but the next new key is asked at once.
	key2, _ := api.AddKey("CLI Key 2", t0.Add(-3*day))
	if _, err := f.store.Put(context.Background(), "default", key2, credstore.PutOptions{Source: credstore.SourceLogin, APIURL: &ts.URL}); err != nil {
		t.Fatal(err)
	}
	f.r.Check(context.Background())
	if n := api.Count("GET", "/auth/api-keys"); n != 3 {
		t.Fatalf("%d look-ups after a new key, want 3", n)
	}
	if p := f.profile(t); p.CreatedAt == nil || !p.CreatedAt.Equal(t0.Add(-3*day)) {
		t.Fatalf("the new key's created_at = %v", p.CreatedAt)
	}
}

// A kick (the daemon saw state.json change) makes Run look at once.
func TestRunLooksAtOnceWhenKicked(t *testing.T) {
	api := fakeapi.New(t, fakeapi.Documented)
	ts := overHTTPS(t, api.Config.Handler)
	key, _ := api.AddKey("CLI Key", t0.Add(-40*day))
	f := newFixtureWith(t, t0, key, credstore.PutOptions{Source: credstore.SourceLogin, APIURL: &ts.URL})
	f.r.Offline = false
	f.r.After = func(time.Duration) <-chan time.Time { return nil } // never wakes by itself
	kick := make(chan struct{})
	f.r.Kick = kick
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.r.Run(ctx) }()
	kick <- struct{}{} // received only once the first check is done and Run waits
	kick <- struct{}{}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := api.Count("GET", "/auth/api-keys"); n != 1 {
		t.Fatalf("%d look-ups, want 1 (then known)", n)
	}
}

// The daemon's own look-up never sends a key to an http URL, whichever
// stored tier names it (the profile's login --api-url, config.json's
// api_url), nor to the daemon's own TORALE_API_URL (a caller's
// environment is not the daemon's to use): the age counts from stored_at.
func TestCreatedAtLookupNeverOverHTTP(t *testing.T) {
	for _, tier := range []string{"profile", "config"} {
		t.Run(tier, func(t *testing.T) {
			var mu sync.Mutex
			var auth []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				a := r.Header.Get("Authorization")
				if a != "" {
					a = "present (" + apikey.Hint(a) + ")"
				}
				auth = append(auth, r.Method+" "+r.URL.Path+" Authorization: "+a)
				mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`[]`))
			}))
			t.Cleanup(srv.Close)
			t.Setenv("TORALE_API_URL", srv.URL)
			o := credstore.PutOptions{Source: credstore.SourceLogin}
			if tier == "profile" {
				o.APIURL = &srv.URL
			}
			f := newFixtureWith(t, t0.Add(-85*day), testKey, o)
			if tier == "config" {
				cfg := filepath.Join(t.TempDir(), "config.json")
				if err := os.WriteFile(cfg, []byte(`{"api_url": "`+srv.URL+`"}`), 0o600); err != nil {
					t.Fatal(err)
				}
				f.store.ConfigPath = cfg
			}
			if r, err := f.store.Stored(context.Background(), "default"); err != nil || r.URL != srv.URL || r.URLSource != tier {
				t.Fatalf("harness: the stored tiers name %q (%s), %v; want %s from %s", r.URL, r.URLSource, err, srv.URL, tier)
			}
			f.r.Offline = false
			f.r.Check(context.Background())
			f.clock.Add(LookupRetry + time.Hour)
			f.r.Check(context.Background())
			mu.Lock()
			got := auth
			mu.Unlock()
			if len(got) != 0 {
				t.Fatalf("the daemon sent requests to an http URL: %q", got)
			}
			f.expect(t, 1, "due in 5 days")
			if !strings.Contains(f.logs.String(), "only to https URLs") || strings.Contains(f.logs.String(), testKey) {
				t.Fatalf("logs:\n%s", f.logs)
			}
		})
	}
}

// TestRunSleepsUntilNextMoment drives Run with a fake timer: every sleep is
// between a second and an hour, the loop never spins, and the reminder
// comes when the clock reaches the due date.
func TestRunSleepsUntilNextMoment(t *testing.T) {
	t.Parallel()
	stored := t0.Add(-90*day + 150*time.Minute) // due in 2.5 h
	f := newFixture(t, stored)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sleeps []time.Duration
	f.r.After = func(d time.Duration) <-chan time.Time {
		sleeps = append(sleeps, d)
		if len(sleeps) > 60 {
			cancel()
		}
		f.clock.Add(d)
		ch := make(chan time.Time, 1)
		ch <- f.clock.Now()
		return ch
	}
	// The early notice was given already (this is a restart).
	early := t0.Add(-time.Hour)
	if err := f.store.StateFile.Update(func(s *credstore.State) error { s.Profiles["default"].LastRemindedAt = &early; return nil }); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- f.r.Run(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(patience):
		t.Fatal("Run did not return after cancel")
	}
	if len(sleeps) < 60 {
		t.Fatalf("only %d sleeps", len(sleeps))
	}
	want := []time.Duration{time.Hour, time.Hour, 30 * time.Minute, time.Hour}
	for i, w := range want {
		if sleeps[i] != w {
			t.Fatalf("sleeps[%d] = %v, want %v (all: %v)", i, sleeps[i], w, sleeps[:8])
		}
	}
	for i, s := range sleeps {
		if s < time.Second || s > time.Hour {
			t.Fatalf("sleep %d = %v", i, s)
		}
	}
	// 60 hours simulated from 2.5 h before the due date: reminders at the
	// due date and 24 and 48 hours after.
	f.expect(t, 3, "Rotate your Torale API key")
}

// BenchmarkCheck is one wake-up of the reminder over ten profiles, none
// due: what the daemon pays each hour.
func BenchmarkCheck(b *testing.B) {
	st := &credstore.Store{
		Keychain:  keychain.New(keychain.WithKeyring(&memBackend{m: map[string]string{}})),
		StateFile: credstore.StateFile{Dir: b.TempDir()},
	}
	if err := st.StateFile.Update(func(s *credstore.State) error {
		for i := range 10 {
			s.Profiles[string(rune('a'+i))] = &credstore.Profile{KeyHint: "sk_...abcde", StoredAt: t0.Add(-time.Duration(i) * day), Source: "login"}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	r := &Reminder{Store: st, Offline: true, Now: func() time.Time { return t0 }, Logger: slog.New(slog.DiscardHandler)}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r.Check(ctx)
	}
}
