package daemon

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/internal/toraleconfig"
	"github.com/torale-ai/torale-cred/ipc"
)

// Cache timing defaults.
const (
	// DefaultCacheTTL bounds how old a keychain read the daemon serves can
	// be, so a change made with another keychain tool shows up.
	DefaultCacheTTL = time.Minute
	// DefaultFilePoll is how stale the daemon's view of config.json and
	// state.json may get before a look-up has them stat'ed again (in the
	// background) for changes made behind the daemon's back.
	DefaultFilePoll = time.Second
	// keychainErrTTL is how long a keychain failure is answered from memory
	// before the keychain is asked again.
	keychainErrTTL = 2 * time.Second
	// maxCachedProfiles bounds the keychain cache; look-ups of profiles past
	// it go to the keychain each time.
	maxCachedProfiles = 256
)

// keyEntry is one keychain read: the key, or ErrNotFound, or a keychain
// error. Fields other than used never change after creation.
type keyEntry struct {
	key  string
	err  error
	at   time.Time
	used atomic.Int64 // unix nanoseconds of the last look-up
}

// fileSig identifies a version of a file without reading it.
type fileSig struct {
	exists bool
	size   int64
	mtime  int64
	ino    uint64
	mode   fs.FileMode
}

func sigOf(path string) fileSig {
	fi, err := os.Stat(path)
	if err != nil {
		return fileSig{}
	}
	return fileSig{exists: true, size: fi.Size(), mtime: fi.ModTime().UnixNano(), ino: inodeOf(fi), mode: fi.Mode()}
}

type configSnap struct {
	sig fileSig
	cfg toraleconfig.Config
}

type stateSnap struct {
	sig fileSig
	st  *credstore.State
	err error
}

// Cache is the daemon's Backend: the store's three tiers held in memory.
// Keychain reads are kept at most TTL and refreshed in the background;
// config.json and state.json are re-read when their stat changes or when
// told to. Every write through it drops what it changed. The look-up hot
// path, once warm, does no disk or D-Bus I/O.
//
// Upkeep is driven by look-ups, not by clocks: a look-up that finds an
// answer getting old serves it and asks Refresh to renew it, so a daemon
// nobody asks wakes for nothing (a laptop's idle power), yet no answer is
// ever older than its bound.
type Cache struct {
	store   *credstore.Store
	period  time.Duration
	ttl     time.Duration
	log     *slog.Logger
	now     func() time.Time
	cfgProf string

	gen atomic.Uint64

	// kick asks Refresh for upkeep. dueAt (unix nanoseconds) is when it is
	// next needed: the files' stat older than filePoll, or a key past a
	// third of its TTL. filesAt is when the files were last stat'ed.
	kick     chan struct{}
	dueAt    atomic.Int64
	filesAt  atomic.Int64
	filePoll time.Duration

	mu       sync.RWMutex
	keys     map[string]*keyEntry
	inflight map[string]chan struct{}

	writeMu sync.Mutex
	fileMu  sync.Mutex
	cfg     atomic.Pointer[configSnap]
	state   atomic.Pointer[stateSnap]

	healthMu  sync.Mutex
	healthErr error
	healthAt  time.Time
	// onHealth is told when the keychain goes away or comes back.
	onHealth func(err error)
}

// NewCache wraps store. period is the rotation period (0: the default).
func NewCache(store *credstore.Store, period, ttl time.Duration, log *slog.Logger) *Cache {
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	if period <= 0 {
		period = credstore.DefaultRotationPeriod
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Cache{store: store, period: period, ttl: ttl, log: log, now: time.Now,
		keys: map[string]*keyEntry{}, inflight: map[string]chan struct{}{},
		kick: make(chan struct{}, 1), filePoll: DefaultFilePoll}
	c.cfgProf = store.ConfigProfile
	if c.cfgProf == "" {
		c.cfgProf = credstore.DefaultProfile
	}
	if store.Now != nil {
		c.now = store.Now
	}
	c.reloadFiles(true)
	return c
}

// Generation changes whenever any answer may have changed (ipc.Generationer).
// The server asks it on every /v1/resolve, even one it answers from its own
// cache, so it is also where a look-up notices that upkeep is due.
func (c *Cache) Generation() uint64 {
	c.notice(c.now())
	return c.gen.Load()
}

func (c *Cache) bump() { c.gen.Add(1) }

// StoredKey implements credstore.Tiers from memory when it can.
func (c *Cache) StoredKey(ctx context.Context, profile string) (string, error) {
	now := c.now()
	c.notice(now)
	c.mu.RLock()
	e := c.keys[profile]
	c.mu.RUnlock()
	if e != nil && c.fresh(e, now) {
		e.used.Store(now.UnixNano())
		return e.key, e.err
	}
	return c.load(ctx, profile, now)
}

// notice asks Refresh for upkeep, without waiting, once it is due: every
// look-up calls it (Generation for /v1/resolve, StoredKey, List), so what changed behind the daemon's back shows up
// within FilePoll of a look-up and keys in use are renewed before they
// expire (the config.json watcher reports its own changes at once).
func (c *Cache) notice(now time.Time) {
	if now.UnixNano() >= c.dueAt.Load() {
		c.wake()
	}
}

// wake asks Refresh for upkeep without waiting.
func (c *Cache) wake() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *Cache) fresh(e *keyEntry, now time.Time) bool {
	age := now.Sub(e.at)
	if e.err != nil && !errors.Is(e.err, credstore.ErrNotFound) {
		return age < keychainErrTTL
	}
	return age < c.ttl
}

// load reads the keychain once for however many look-ups wait on it.
func (c *Cache) load(ctx context.Context, profile string, now time.Time) (string, error) {
	c.mu.Lock()
	if e := c.keys[profile]; e != nil && c.fresh(e, now) {
		c.mu.Unlock()
		return e.key, e.err
	}
	if ch, ok := c.inflight[profile]; ok {
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return "", &credstore.KeychainError{Fault: credstore.FaultTimeout, Reason: "the look-up was abandoned while the keychain was being read"}
		}
		c.mu.RLock()
		e := c.keys[profile]
		c.mu.RUnlock()
		if e != nil {
			return e.key, e.err
		}
		return c.store.Keychain.Get(ctx, profile)
	}
	ch := make(chan struct{})
	c.inflight[profile] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.inflight, profile)
		c.mu.Unlock()
		close(ch)
	}()
	return c.read(context.WithoutCancel(ctx), profile)
}

// read asks the keychain and records the answer unless a write landed
// meanwhile.
func (c *Cache) read(ctx context.Context, profile string) (string, error) {
	start := c.now()
	key, err := c.store.Keychain.Get(ctx, profile)
	c.noteHealth(err)
	c.set(profile, key, err, start, false)
	return key, err
}

// set records a keychain answer observed at 'at'. A read never overwrites
// an entry newer than itself (a write that landed while it waited).
func (c *Cache) set(profile, key string, err error, at time.Time, force bool) {
	e := &keyEntry{key: key, err: err, at: at}
	e.used.Store(at.UnixNano())
	c.mu.Lock()
	old := c.keys[profile]
	if old != nil && !force && old.at.After(at) {
		c.mu.Unlock()
		return
	}
	if old == nil && len(c.keys) >= maxCachedProfiles {
		c.mu.Unlock()
		return
	}
	if old != nil {
		e.used.Store(max(old.used.Load(), at.UnixNano()))
	}
	c.keys[profile] = e
	c.mu.Unlock()
	if old == nil {
		c.wake() // Refresh arms the sweep that forgets it once expired
	}
	if old == nil || old.key != key || errText(old.err) != errText(err) {
		c.bump()
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Invalidate drops profile's cached key: the next look-up reads the
// keychain. Call it after writing the keychain behind the daemon's back.
func (c *Cache) Invalidate(profile string) {
	c.mu.Lock()
	delete(c.keys, profile)
	c.mu.Unlock()
	c.bump()
}

// InvalidateConfig is for the config.json watcher: it re-reads config.json
// and state.json now and drops the cached key of the profile config.json
// belongs to (a migration just moved it into the keychain).
func (c *Cache) InvalidateConfig() {
	c.reloadFiles(true)
	c.Invalidate(c.cfgProf)
}

// InvalidateAll drops every cached key and re-reads both files.
func (c *Cache) InvalidateAll() {
	c.reloadFiles(true)
	c.mu.Lock()
	clear(c.keys)
	c.mu.Unlock()
	c.bump()
}

// reloadFiles re-reads config.json and state.json when their stat changed
// (or always, when force).
func (c *Cache) reloadFiles(force bool) {
	c.fileMu.Lock()
	defer c.fileMu.Unlock()
	c.filesAt.Store(c.now().UnixNano())
	changed := false
	if path := c.store.ConfigPath; path != "" {
		sig := sigOf(path)
		if old := c.cfg.Load(); force || old == nil || old.sig != sig {
			snap := &configSnap{sig: sig}
			if sig.exists {
				if cfg, _, err := toraleconfig.Read(path); err == nil {
					snap.cfg = cfg
				}
			}
			if old == nil || old.cfg != snap.cfg {
				changed = true
			}
			c.cfg.Store(snap)
		}
	}
	sp := c.store.State.Path()
	sig := sigOf(sp)
	if old := c.state.Load(); force || old == nil || old.sig != sig {
		st, err := c.store.State.Load()
		c.state.Store(&stateSnap{sig: sig, st: st, err: err})
		changed = true
	}
	if changed {
		c.bump()
	}
}

// Plaintext implements credstore.Tiers from the cached config.json.
func (c *Cache) Plaintext(profile string) toraleconfig.Config {
	if profile != c.cfgProf {
		return toraleconfig.Config{}
	}
	if s := c.cfg.Load(); s != nil {
		return s.cfg
	}
	return toraleconfig.Config{}
}

// ProfileURL implements credstore.Tiers from the cached state.json.
func (c *Cache) ProfileURL(profile string) string {
	if p := c.profile(profile); p != nil && p.APIURL != nil {
		return *p.APIURL
	}
	return ""
}

func (c *Cache) profile(name string) *credstore.Profile {
	s := c.state.Load()
	if s == nil || s.st == nil {
		return nil
	}
	return s.st.Profiles[name]
}

func (c *Cache) rotation(profile string) *credstore.Rotation {
	p := c.profile(profile)
	if p == nil {
		return nil
	}
	r := credstore.RotationOf(*p, c.period, c.now())
	return &r
}

// Resolve implements ipc.Backend: the CLI's resolver over the cached tiers.
// The server has asked Generation first, which noticed due upkeep.
func (c *Cache) Resolve(ctx context.Context, req credstore.Request) (ipc.Answer, error) {
	r, err := credstore.Resolve(ctx, req, c)
	if err != nil {
		return ipc.Answer{}, err
	}
	return ipc.Answer{Resolution: r, Rotation: c.rotation(req.Profile)}, nil
}

// Stored implements ipc.Backend: the keychain tier alone.
func (c *Cache) Stored(ctx context.Context, profile string) (ipc.Answer, error) {
	key, err := c.StoredKey(ctx, profile)
	if err != nil {
		return ipc.Answer{}, err
	}
	req := credstore.Request{Profile: profile}
	url, src := credstore.ResolveURL(req, c)
	return ipc.Answer{Resolution: credstore.Resolution{Profile: profile, Key: key, KeySource: credstore.FromKeychain,
		URL: url, URLSource: src}, Rotation: c.rotation(profile)}, nil
}

// List implements ipc.Backend from the cached state.json.
func (c *Cache) List(context.Context) ([]ipc.ProfileMeta, error) {
	c.notice(c.now())
	s := c.state.Load()
	if s == nil {
		c.reloadFiles(true)
		s = c.state.Load()
	}
	if s.err != nil {
		return nil, s.err
	}
	now := c.now()
	out := make([]ipc.ProfileMeta, 0, len(s.st.Profiles))
	for _, n := range s.st.Names() {
		p := *s.st.Profiles[n]
		out = append(out, ipc.ProfileMeta{Name: n, Profile: p, Rotation: credstore.RotationOf(p, c.period, now)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Put implements ipc.Backend: stores through the store, then records what
// the keychain now holds so the next look-up is served from memory.
func (c *Cache) Put(ctx context.Context, profile, key string, o credstore.PutOptions) (ipc.ProfileMeta, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	err := c.store.Put(ctx, profile, key, o)
	c.noteHealth(err)
	if err != nil {
		c.Invalidate(profile)
		c.reloadFiles(true)
		return ipc.ProfileMeta{}, err
	}
	c.set(profile, key, nil, c.now(), true)
	c.reloadFiles(true)
	c.bump()
	p := c.profile(profile)
	if p == nil {
		return ipc.ProfileMeta{Name: profile}, nil
	}
	return ipc.ProfileMeta{Name: profile, Profile: *p, Rotation: credstore.RotationOf(*p, c.period, c.now())}, nil
}

// Delete implements ipc.Backend.
func (c *Cache) Delete(ctx context.Context, profile string) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	err := c.store.Delete(ctx, profile)
	c.noteHealth(err)
	if err == nil || errors.Is(err, credstore.ErrNotFound) {
		c.set(profile, "", credstore.ErrNotFound, c.now(), true)
	} else {
		c.Invalidate(profile)
	}
	c.reloadFiles(true)
	c.bump()
	return err
}

// healthEvery bounds the age of the keychain health /v1/health reports.
const healthEvery = 5 * time.Second

// downEvery is how often an unavailable keychain is checked until it is
// back, so look-ups recover within it (a ping is cheap; so is being down).
const downEvery = 500 * time.Millisecond

// Health implements ipc.Backend: nil when the keychain answers. Every
// keychain call updates what it knows; when that is older than healthEvery
// it asks the keychain now (bounded by the keychain timeout), so the answer
// is never stale and an idle daemon pings nobody.
func (c *Cache) Health(ctx context.Context) error {
	c.healthMu.Lock()
	recent, err := !c.healthAt.IsZero() && c.now().Sub(c.healthAt) < healthEvery, c.healthErr
	c.healthMu.Unlock()
	if recent {
		return err
	}
	c.noteHealth(c.store.Keychain.Ping(ctx))
	return c.keychainErr()
}

func (c *Cache) keychainErr() error {
	c.healthMu.Lock()
	defer c.healthMu.Unlock()
	return c.healthErr
}

// noteHealth records what any keychain call said about the keychain.
func (c *Cache) noteHealth(err error) {
	if err != nil && !errors.Is(err, credstore.ErrKeychain) {
		return // not found, bad key: the keychain answered
	}
	c.healthMu.Lock()
	was := c.healthErr
	c.healthErr, c.healthAt = err, c.now()
	cb := c.onHealth
	c.healthMu.Unlock()
	if (was == nil) != (err == nil) {
		if err != nil {
			c.log.Warn("keychain unavailable; stored look-ups answer 503 until it is back", "err", err)
			c.wake() // Refresh checks it until it is back
		} else {
			c.log.Info("keychain available again")
			c.dropErrors()
		}
		if cb != nil {
			cb(err)
		}
	}
}

// dropErrors forgets cached keychain failures so look-ups retry at once.
func (c *Cache) dropErrors() {
	c.mu.Lock()
	for p, e := range c.keys {
		if e.err != nil && !errors.Is(e.err, credstore.ErrNotFound) {
			delete(c.keys, p)
		}
	}
	c.mu.Unlock()
	c.bump()
}

// Warm reads the keys of every known profile, so the first look-ups are
// served from memory.
func (c *Cache) Warm(ctx context.Context) {
	names := map[string]bool{c.cfgProf: true}
	if s := c.state.Load(); s != nil && s.st != nil {
		for n := range s.st.Profiles {
			names[n] = true
		}
	}
	for n := range names {
		if ctx.Err() != nil {
			return
		}
		_, _ = c.StoredKey(ctx, n)
	}
}

// Refresh does the cache's upkeep until ctx ends, when look-ups find it
// due (notice): it re-stats config.json and state.json (poll bounds their
// staleness; 0 means DefaultFilePoll), re-reads the keys in use that are
// past a third of their TTL, and forgets the rest once expired. While the
// keychain is unavailable it checks it every downEvery until it is back.
// Nothing else wakes it: a daemon nobody asks sleeps, and no key stays in
// its memory much past the TTL after its last look-up.
func (c *Cache) Refresh(ctx context.Context, poll time.Duration) {
	if poll > 0 {
		c.filePoll = poll
		c.schedule()
	}
	health := newStoppedTimer()
	sweep := newStoppedTimer()
	var healthArmed bool
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
			if c.now().UnixNano()-c.filesAt.Load() >= int64(c.filePoll) {
				c.reloadFiles(false)
			}
			c.renewKeys(ctx)
		case <-health.C:
			healthArmed = false
			c.noteHealth(c.store.Keychain.Ping(ctx))
		case <-sweep.C:
			c.renewKeys(ctx)
		}
		if c.keychainErr() != nil && !healthArmed {
			health.Reset(downEvery)
			healthArmed = true
		}
		sweep.Stop()
		if at, ok := c.nextExpiry(); ok {
			sweep.Reset(max(at.Sub(c.now()), 0) + time.Millisecond)
		}
	}
}

// renewKeys re-reads the keys looked up within their TTL once they are
// past a third of it, and forgets every entry that has expired unused.
func (c *Cache) renewKeys(ctx context.Context) {
	now := c.now()
	var due []string
	expired := false
	c.mu.Lock()
	for p, e := range c.keys {
		switch age := now.Sub(e.at); {
		case !c.fresh(e, now):
			delete(c.keys, p)
			expired = true
		case e.err != nil && !errors.Is(e.err, credstore.ErrNotFound):
			// a keychain failure: the next look-up past keychainErrTTL retries
		case age >= c.ttl/3 && c.inUse(e, now):
			due = append(due, p)
		}
	}
	c.mu.Unlock()
	if expired {
		c.bump() // answers the server keeps may hold what just expired
	}
	for _, p := range due {
		if ctx.Err() != nil {
			break
		}
		_, _ = c.read(ctx, p)
	}
	c.schedule()
}

// inUse: e was looked up within its TTL, so it is worth renewing.
func (c *Cache) inUse(e *keyEntry, now time.Time) bool {
	return now.Sub(time.Unix(0, e.used.Load())) < c.ttl
}

// schedule sets dueAt: the files' next stat, or the first key in use to
// reach a third of its TTL. (Keys not in use just expire: the sweep.)
func (c *Cache) schedule() {
	now := c.now()
	due := c.filesAt.Load() + int64(c.filePoll)
	c.mu.RLock()
	for _, e := range c.keys {
		if (e.err == nil || errors.Is(e.err, credstore.ErrNotFound)) && c.inUse(e, now) {
			due = min(due, e.at.Add(c.ttl/3).UnixNano())
		}
	}
	c.mu.RUnlock()
	c.dueAt.Store(due)
}

// nextExpiry is when the first cached entry stops being served.
func (c *Cache) nextExpiry() (time.Time, bool) {
	var first time.Time
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, e := range c.keys {
		ttl := c.ttl
		if e.err != nil && !errors.Is(e.err, credstore.ErrNotFound) {
			ttl = keychainErrTTL
		}
		if at := e.at.Add(ttl); first.IsZero() || at.Before(first) {
			first = at
		}
	}
	return first, !first.IsZero()
}

var _ ipc.Backend = (*Cache)(nil)
var _ credstore.Tiers = (*Cache)(nil)
