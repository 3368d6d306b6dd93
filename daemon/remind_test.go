package daemon

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/internal/toraleapi/fakeapi"
)

const testKey = "sk_abc123def456ghi789jkl012mno345pqRST"

// memBackend is an in-memory keychain for these pure unit tests.
type memBackend struct {
	mu sync.Mutex
	m  map[string]string
}

func (b *memBackend) Get(s, u string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.m[s+"/"+u]
	if !ok {
		return "", keyring.ErrNotFound
	}
	return v, nil
}

func (b *memBackend) Set(s, u, p string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m[s+"/"+u] = p
	return nil
}

func (b *memBackend) Delete(s, u string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
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
	clock *clock
	notes *notified
	logs  *bytes.Buffer
	r     *Reminder
}

// newFixture stores testKey for "default" at storedAt and builds a
// reminder (offline unless told) at t0.
func newFixture(t *testing.T, storedAt time.Time) *fixture {
	t.Helper()
	c := &clock{t: storedAt}
	st := &credstore.Store{
		Keychain: credstore.NewKeychain(credstore.WithBackend(&memBackend{m: map[string]string{}})),
		State:    credstore.StateFile{Dir: t.TempDir()},
		Now:      c.Now,
	}
	if err := st.Put(context.Background(), "default", testKey, credstore.PutOptions{Source: credstore.SourceLogin}); err != nil {
		t.Fatal(err)
	}
	c.Set(t0)
	f := &fixture{store: st, clock: c, notes: &notified{}, logs: &bytes.Buffer{}}
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
	s, err := f.store.State.Load()
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
	f := newFixture(t, t0.Add(-time.Hour)) // stored just now...
	created := t0.Add(-95 * day)           // ...but created long ago
	if err := f.store.State.Update(func(s *credstore.State) error {
		s.Profiles["default"].CreatedAt = &created
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	f.r.Check(context.Background())
	f.expect(t, 1, "95 days old")
}

func TestPeriodConfigurable(t *testing.T) {
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
	f := newFixture(t, t0.Add(-91*day))
	f.r.Check(context.Background())
	f.expect(t, 1, "91 days old")
	other := "sk_ZYXwvu987654321zyxwvu987654321ABCDE"
	f.store.Now = f.clock.Now
	if err := f.store.Put(context.Background(), "default", other, credstore.PutOptions{Source: credstore.SourceRotate}); err != nil {
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
	f := newFixture(t, t0.Add(-91*day))
	// state.json stays readable, but every update fails to take its lock
	// (a directory where the lock file goes defeats even root).
	lock := filepath.Join(f.store.State.Dir, "state.lock")
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

func TestLookupCreatedAtFromServer(t *testing.T) {
	for _, m := range []fakeapi.Mode{fakeapi.Documented, fakeapi.Live} {
		t.Run(m.String(), func(t *testing.T) {
			api := fakeapi.New(t, m)
			created := t0.Add(-92 * day)
			key, id := api.AddKey("CLI Key", created)
			f := newFixture(t, t0.Add(-2*day))
			if err := f.store.Put(context.Background(), "default", key, credstore.PutOptions{Source: credstore.SourceLogin}); err != nil {
				t.Fatal(err)
			}
			f.r.Offline = false
			f.r.Env = credstore.Env{APIURL: api.URL}
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
	f := newFixture(t, t0.Add(-10*day))
	f.r.Offline = false
	f.r.Env = credstore.Env{APIURL: api.URL} // the key is unknown there: 401
	f.r.Check(context.Background())
	f.expect(t, 0, "")
	if p := f.profile(t); p.CreatedAt != nil {
		t.Fatalf("created_at = %v", p.CreatedAt)
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
	api.Close()
	f.clock.Add(LookupRetry)
	f.r.Check(context.Background())
	if !strings.Contains(f.logs.String(), "created_at look-up failed") {
		t.Fatalf("logs:\n%s", f.logs)
	}
}

// TestRunSleepsUntilNextMoment drives Run with a fake timer: every sleep is
// between a second and an hour, the loop never spins, and the reminder
// comes when the clock reaches the due date.
func TestRunSleepsUntilNextMoment(t *testing.T) {
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
	if err := f.store.State.Update(func(s *credstore.State) error { s.Profiles["default"].LastRemindedAt = &early; return nil }); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- f.r.Run(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
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
		Keychain: credstore.NewKeychain(credstore.WithBackend(&memBackend{m: map[string]string{}})),
		State:    credstore.StateFile{Dir: b.TempDir()},
	}
	if err := st.State.Update(func(s *credstore.State) error {
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
