package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/internal/toraleapi"
)

// Reminder timing.
const (
	// EarlyNotice is how long before the due date the one early notice
	// comes (at most half the period, for short test periods).
	EarlyNotice = 7 * 24 * time.Hour
	// RemindEvery is the least time between two reminders of a due key.
	RemindEvery = 24 * time.Hour
	// DefaultMaxSleep is the longest the reminder sleeps between looks at
	// the wall clock: suspend and clock changes are noticed within it.
	DefaultMaxSleep = time.Hour
	// minSleep keeps a clock that will not move forward from turning the
	// loop into a busy one.
	minSleep = time.Second
	// LookupRetry is how long a failed created_at look-up waits before the
	// next try for the same profile.
	LookupRetry = 6 * time.Hour
	// lookupTimeout bounds one look-up.
	lookupTimeout = 15 * time.Second
)

// Reminder tells the user when a profile's key is due for rotation: one
// early notice EarlyNotice before the due date, then at most one reminder
// every RemindEvery from the due date on, each as a log line and a desktop
// notification. When it last reminded is kept in state.json
// (last_reminded_at), so restarts, suspend and clock changes neither repeat
// nor lose a reminder. All its times are wall-clock times; it sleeps until
// the next due moment, waking at least every MaxSleep.
type Reminder struct {
	// Store holds the keys and their metadata.
	Store *credstore.Store
	// Period is a key's life (default credstore.DefaultRotationPeriod).
	Period time.Duration
	// Notify shows a desktop notification (notify.Notify); nil: log only.
	Notify func(ctx context.Context, title, body string) error
	// Logger receives the reminder lines (default slog.Default()).
	Logger *slog.Logger
	// Now is the wall clock (default time.Now).
	Now func() time.Time

	// Offline turns off the created_at look-up: the age then counts from
	// stored_at until something else records created_at.
	Offline bool
	// MaxSleep caps each sleep (default DefaultMaxSleep).
	MaxSleep time.Duration
	// After is the timer (default time.After); tests drive the loop with it.
	After func(time.Duration) <-chan time.Time
	// Kick makes it look at once (nil: never): the daemon sends a value
	// when state.json changed, so a key just stored is asked its
	// created_at within moments, not at the next wake-up.
	Kick <-chan struct{}

	mu       sync.Mutex
	reminded map[string]reminded  // this process's memory, for a state.json that cannot be written
	lookedUp map[string]time.Time // last created_at look-up per profile
}

// reminded is a reminder given to one key (hint and age origin), so a new
// key never inherits the old one's silence.
type reminded struct {
	hint string
	from time.Time
	at   time.Time
}

// Run reminds until ctx ends; it returns nil then. Failures to read the
// metadata, reach the server or notify are logged, never fatal.
func (r *Reminder) Run(ctx context.Context) error {
	r.logger().Info("rotation reminders on", "period", fmtDays(r.period()), "early_notice", fmtDays(notice(r.period())))
	for {
		next := r.Check(ctx)
		d := next.Sub(r.now())
		d = max(minSleep, min(d, r.maxSleep()))
		select {
		case <-ctx.Done():
			return nil
		case <-r.after(d):
		case <-r.Kick:
		}
	}
}

// Check looks at every profile once, reminds where it is time, and returns
// the wall-clock moment something next becomes due (capped at MaxSleep
// from now).
func (r *Reminder) Check(ctx context.Context) time.Time {
	now := r.now()
	next := now.Add(r.maxSleep())
	st, err := r.Store.StateFile.Load()
	if err != nil {
		r.logger().Warn("rotation reminders: cannot read the metadata", "err", err)
		return next
	}
	for _, name := range st.Names() {
		if ctx.Err() != nil {
			return next
		}
		p := *st.Profiles[name]
		// Asked as soon as a key is stored, not only near its due date: a
		// key migrated or logged in long after it was created must not be
		// reported as new for months.
		if p.CreatedAt == nil && !r.Offline {
			r.lookupCreated(ctx, name, &p, now)
		}
		if at := r.checkProfile(ctx, name, p, now); !at.IsZero() && at.Before(next) {
			next = at
		}
	}
	return next
}

// checkProfile reminds about one profile when due and returns when it next
// needs a look (zero: never, it has no age).
func (r *Reminder) checkProfile(ctx context.Context, name string, p credstore.Profile, now time.Time) time.Time {
	from := p.AgeFrom()
	if from.IsZero() {
		return time.Time{}
	}
	period := r.period()
	due := from.Add(period)
	early := due.Add(-notice(period))
	last := r.lastReminded(name, p, from)
	if last != nil && last.After(now) {
		// The clock went back past the last reminder: count the 24 hours
		// from now, as if it had just been given, rather than fall silent
		// until the clock catches up.
		r.record(name, p, from, now)
		last = &now
	}
	switch {
	case now.Before(early):
		return early
	case now.Before(due):
		if last != nil && !last.Before(early) {
			return due
		}
		r.remind(ctx, name, p, from, now, due, false)
		return due
	default:
		if last != nil && !last.Before(due) && now.Sub(*last) < RemindEvery {
			return last.Add(RemindEvery)
		}
		r.remind(ctx, name, p, from, now, due, true)
		return now.Add(RemindEvery)
	}
}

// remind gives one reminder through every channel and remembers it.
func (r *Reminder) remind(ctx context.Context, name string, p credstore.Profile, from, now, due time.Time, overdue bool) {
	if _, err := r.Store.Stored(ctx, name); errors.Is(err, storeerr.ErrNotFound) {
		return // the key is gone from the keychain: nothing to rotate
	}
	rot := credstore.RotationOf(p, r.period(), now)
	title, body := Message(name, p.KeyHint, rot.AgeDays, due, now, overdue)
	log := r.logger().With("profile", name, "key", p.KeyHint, "age_days", rot.AgeDays, "due_at", due.UTC().Format(time.RFC3339))
	if overdue {
		log.Warn(title + ": " + body)
	} else {
		log.Info(title + ": " + body)
	}
	if r.Notify != nil {
		if err := r.Notify(ctx, title, body); err != nil {
			// The log line above is a reminder too; a broken notification
			// server must not turn into a notification every minute.
			log.Warn("desktop notification failed", "err", err)
		}
	}
	r.record(name, p, from, now)
}

// Message words a reminder. The body names the key by its hint only.
func Message(profile, hint string, ageDays int, due, now time.Time, overdue bool) (title, body string) {
	fix := "Run: torale-cred rotate --profile " + profile
	if overdue {
		return "Rotate your Torale API key",
			fmt.Sprintf("The key %s (profile %q) is %d days old; rotation was due on %s. %s",
				hint, profile, ageDays, due.UTC().Format("2006-01-02"), fix)
	}
	days := int(math.Ceil(due.Sub(now).Hours() / 24))
	unit := "days"
	if days == 1 {
		unit = "day"
	}
	return fmt.Sprintf("Torale API key rotation due in %d %s", days, unit),
		fmt.Sprintf("The key %s (profile %q) is due for rotation on %s. %s",
			hint, profile, due.UTC().Format("2006-01-02"), fix)
}

// lastReminded merges state.json's last_reminded_at with this process's
// memory of reminders it could not persist.
func (r *Reminder) lastReminded(name string, p credstore.Profile, from time.Time) *time.Time {
	last := p.LastRemindedAt
	r.mu.Lock()
	m, ok := r.reminded[name]
	r.mu.Unlock()
	if ok && m.hint == p.KeyHint && m.from.Equal(from) && (last == nil || m.at.After(*last)) {
		at := m.at
		last = &at
	}
	return last
}

// record persists last_reminded_at unless the profile's key changed
// meanwhile, and remembers it in memory in case the write fails.
func (r *Reminder) record(name string, p credstore.Profile, from, at time.Time) {
	r.mu.Lock()
	if r.reminded == nil {
		r.reminded = map[string]reminded{}
	}
	r.reminded[name] = reminded{hint: p.KeyHint, from: from, at: at}
	r.mu.Unlock()
	at = at.UTC()
	err := r.Store.UpdateState(func(st *credstore.State) error {
		q := st.Profiles[name]
		if q == nil || q.KeyHint != p.KeyHint || !q.AgeFrom().Equal(from) {
			return nil
		}
		q.LastRemindedAt = &at
		return nil
	})
	if err != nil {
		r.logger().Warn("rotation reminders: cannot record the reminder", "profile", name, "err", err)
	}
}

// lookupCreated asks the server when the profile's key was created (GET
// /auth/api-keys, matched by prefix) and records created_at and key_id,
// once per key (again after LookupRetry while the server cannot say).
// Never required: any failure leaves the age counting from stored_at, and
// is logged at debug level only. The key goes only to an https URL: the
// daemon sends it nowhere a user did not just ask for on its own.
func (r *Reminder) lookupCreated(ctx context.Context, name string, p *credstore.Profile, now time.Time) {
	r.mu.Lock()
	if r.lookedUp == nil {
		r.lookedUp = map[string]time.Time{}
	}
	// Per key: a key stored after a failed look-up is asked at once.
	which := name + "\x00" + p.KeyHint
	last, tried := r.lookedUp[which]
	if tried && now.Sub(last) < LookupRetry && !last.After(now) {
		r.mu.Unlock()
		return
	}
	r.lookedUp[which] = now
	r.mu.Unlock()

	log := r.logger().With("profile", name, "key", p.KeyHint)
	// The key leaves for the Torale API: through the hand-out point.
	stored, err := r.Store.Stored(credstore.WithDoor(ctx, credstore.DoorRemind), name)
	if err != nil {
		log.Debug("created_at look-up: no key to ask with", "err", err)
		return
	}
	if apikey.Hint(stored.Key) != p.KeyHint {
		return // the metadata is about another key; leave it alone
	}
	if !credstore.SecureURL(stored.URL) {
		log.Debug("created_at look-up skipped: the daemon sends keys only to https URLs", "url_source", stored.URLSource)
		return
	}
	lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	list, err := toraleapi.New(stored.URL, stored.Key).ListKeys(lctx)
	if err != nil {
		log.Debug("created_at look-up failed; the key's age counts from when it was stored", "err", err)
		return
	}
	rec, ok := toraleapi.FindKey(list, stored.Key)
	if !ok || rec.CreatedAt == nil {
		log.Debug("created_at look-up: the server lists no record for this key; its age counts from when it was stored")
		return
	}
	created := rec.CreatedAt.UTC()
	err = r.Store.UpdateState(func(st *credstore.State) error {
		q := st.Profiles[name]
		if q == nil || q.KeyHint != p.KeyHint || q.CreatedAt != nil {
			return nil
		}
		q.CreatedAt = &created
		if rec.ID != "" {
			id := rec.ID
			q.KeyID = &id
		}
		return nil
	})
	if err != nil {
		log.Warn("created_at look-up: cannot record it", "err", err)
	}
	p.CreatedAt = &created
	log.Info("key's creation date from the server recorded", "created_at", created.Format(time.RFC3339))
}

func (r *Reminder) period() time.Duration {
	if r.Period > 0 {
		return r.Period
	}
	return credstore.DefaultRotationPeriod
}

// notice is the early notice for a period: EarlyNotice, at most half of it.
func notice(period time.Duration) time.Duration { return min(EarlyNotice, period/2) }

func (r *Reminder) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Reminder) maxSleep() time.Duration {
	if r.MaxSleep > 0 {
		return r.MaxSleep
	}
	return DefaultMaxSleep
}

func (r *Reminder) after(d time.Duration) <-chan time.Time {
	if r.After != nil {
		return r.After(d)
	}
	return time.After(d)
}

func (r *Reminder) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

// fmtDays shows a period in days when it is whole days.
func fmtDays(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
