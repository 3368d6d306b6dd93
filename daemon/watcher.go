package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/internal/atomicfile"
	"github.com/torale-ai/torale-cred/internal/safefile"
)

// Defaults of the watcher's timing. The debounce is short because the
// plaintext key is exposed on disk until the migration finishes.
const (
	DefaultDebounce = 2 * time.Millisecond
	DefaultMaxDelay = 50 * time.Millisecond
	// DefaultPollInterval is the stat-poll fallback's period. On Linux
	// inotify does not miss writes, so there the poll runs only while a
	// directory could not be watched; elsewhere (kqueue) it always runs.
	DefaultPollInterval = 2 * time.Second
	DefaultRetryMin     = 1 * time.Second
	DefaultRetryMax     = 30 * time.Second
	DefaultSettle       = 300 * time.Millisecond
)

// Watcher moves every plaintext key that appears in config.json into the
// keychain. It watches the file's directory (editors replace files by
// rename), never trusts event types (each burst of events leads to a fresh
// read and validation), follows the directory being created, removed or
// renamed, falls back to a slow stat poll (kqueue can miss writes, fsnotify
// #717), and retries with backoff while the keychain is unavailable.
type Watcher struct {
	// Path is config.json.
	Path string
	// Migrate moves the key once (credstore.Store.MigrateConfig).
	Migrate func(ctx context.Context) (credstore.MigrationResult, error)
	// Logger receives one line per migration and one warning per problem;
	// nil logs nowhere.
	Logger *slog.Logger
	// OnChange, when set, is called after a key moved into the keychain or
	// config.json changed, so caches of either can be dropped.
	OnChange func()
	// Kick, when set, makes the watcher look again at once (the keychain is
	// back: a key left in place for it moves now, not after the backoff).
	Kick <-chan struct{}
	// Quiet: the file is not config.json (state.json): no sweeping of
	// rewrite leftovers, no tightening of its directory.
	Quiet bool
	// Notify shows a desktop notification (a replaced key); nil: log only.
	Notify func(ctx context.Context, title, body string) error
	// Disposable says whether a killed rewrite's leftover may be deleted
	// (nil: every one); one that may not is kept as config.json.recovered-N.
	Disposable func(content []byte) bool

	// Timing; zero means the default.
	Debounce     time.Duration // quiet time after an event before reading
	MaxDelay     time.Duration // longest a stream of events can defer the read
	PollInterval time.Duration // stat-poll fallback (set: always on, even on Linux)
	RetryMin     time.Duration // first retry after a transient failure
	RetryMax     time.Duration // backoff cap
	Settle       time.Duration // how long a broken file must stay broken before a warning
	TempAge      time.Duration // how old a rewrite's leftover must be to be swept (default a minute)
}

// watchRun is the state of one Run.
type watchRun struct {
	*Watcher
	log       *slog.Logger
	fw        *fsnotify.Watcher
	path      string                 // cleaned config.json path
	dir       string                 // its directory
	target    string                 // the file behind a symlinked path ("" when not a symlink)
	watches   map[string]fs.FileInfo // watch point → identity when added
	unwatched bool                   // a wanted directory could not be watched

	last     fs.FileInfo // config.json at the last scan or poll (nil: absent)
	lastSeen bool
	verdict  string // trustVerdict at the last scan

	backoff    time.Duration
	warned     string // problem already warned about (reason + file identity)
	pendingKey string // problem seen once, to warn about if it settles
	pendingAt  time.Time
	lastRetry  string // last transient reason logged
}

// Run watches until ctx ends. It scans once at the start, so a key written
// while the daemon was down moves at once. It returns nil when ctx ends and
// an error only when the watcher cannot start.
func (w *Watcher) Run(ctx context.Context) error {
	if w.Path == "" || w.Migrate == nil {
		return errors.New("watcher: Path and Migrate are required")
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watching %s: %w", w.Path, err)
	}
	defer fw.Close()
	r := &watchRun{Watcher: w, log: w.Logger, fw: fw, path: filepath.Clean(w.Path), watches: map[string]fs.FileInfo{}}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.dir = filepath.Dir(r.path)
	r.backoff = or(w.RetryMin, DefaultRetryMin)

	debounce := newStoppedTimer()
	retry := newStoppedTimer()
	settle := newStoppedTimer()
	pollEvery := or(w.PollInterval, DefaultPollInterval)
	pollAlways := w.PollInterval > 0 || !reliableEvents
	poll := newStoppedTimer()
	polling := false
	repoll := func() {
		if pollAlways || r.unwatched {
			poll.Reset(pollEvery)
			polling = true
		}
	}
	var pending bool
	var firstEvent time.Time
	arm := func() {
		now := time.Now()
		if !pending {
			pending, firstEvent = true, now
		}
		d := or(w.Debounce, DefaultDebounce)
		if rest := firstEvent.Add(or(w.MaxDelay, DefaultMaxDelay)).Sub(now); rest < d {
			d = max(rest, 0)
		}
		debounce.Reset(d)
	}
	scan := func() {
		pending = false
		debounce.Stop()
		switch r.scan(ctx) {
		case scanRetry:
			retry.Reset(r.backoff)
			r.backoff = min(r.backoff*2, or(w.RetryMax, DefaultRetryMax))
		case scanSettle:
			r.backoff = or(w.RetryMin, DefaultRetryMin)
			settle.Reset(or(w.Settle, DefaultSettle))
		default:
			r.backoff = or(w.RetryMin, DefaultRetryMin)
			retry.Stop()
		}
	}

	r.ensureWatches()
	sweepAgain := newStoppedTimer()
	if !w.Quiet {
		r.sweepTemps()
		// A rewrite killed just before this start (a crash and an
		// immediate restart) left a file too young to tell from a write
		// in progress, possibly holding the plaintext key; it is old
		// enough once tempAge has passed.
		sweepAgain.Reset(or(w.TempAge, tempAge))
	}
	scan()
	repoll()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-fw.Events:
			if !ok {
				return errors.New("watcher: fsnotify closed its event channel")
			}
			switch r.classify(ev) {
			case eventDir:
				r.ensureWatches()
				arm()
			case eventFile:
				arm()
			}
		case err, ok := <-fw.Errors:
			if !ok {
				return errors.New("watcher: fsnotify closed its error channel")
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				r.log.Warn("file events were lost; rescanning config.json", "path", r.path)
				r.ensureWatches()
				arm()
				continue
			}
			r.log.Warn("watching config.json", "path", r.path, "err", err)
		case <-debounce.C:
			scan()
		case <-retry.C:
			scan()
		case <-w.Kick:
			scan()
		case <-settle.C:
			scan()
		case <-sweepAgain.C:
			r.sweepTemps()
		case <-poll.C:
			polling = false
			if r.ensureWatches() || r.statChanged() {
				scan()
			}
		}
		if !polling {
			repoll()
		}
	}
}

type eventKind int

const (
	eventIgnore eventKind = iota
	eventFile             // config.json (or the file it links to) changed
	eventDir              // a directory on the way to it appeared, went or moved
)

// classify says whether an event can concern config.json. Names only pick
// which events lead to a read; what the read finds decides what happens.
func (r *watchRun) classify(ev fsnotify.Event) eventKind {
	name := filepath.Clean(ev.Name)
	if _, ok := r.watches[name]; ok {
		return eventDir // the watched directory itself was removed or renamed
	}
	for _, d := range r.wantDirs() {
		if d == name || strings.HasPrefix(d, name+string(filepath.Separator)) {
			return eventDir
		}
	}
	if name == r.path || (r.target != "" && name == r.target) {
		if ev.Has(fsnotify.Create) || ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
			return eventDir // may be a symlink swapped: recheck what to watch
		}
		return eventFile
	}
	return eventIgnore
}

// tempAge is how old a rewrite's temporary file must be before the watcher
// takes it for one a killed process left (a write takes milliseconds).
const tempAge = time.Minute

// sweepTemps clears the temporary files of config.json rewrites that a
// killed daemon or import left behind: deleted when disposable (no key, or
// the key the keychain already holds), else kept aside with a warning.
func (r *watchRun) sweepTemps() {
	paths := []string{r.path}
	if r.target != "" && r.target != r.path {
		paths = append(paths, r.target)
	}
	for _, p := range paths {
		n, kept, err := atomicfile.SweepTemps(p, or(r.TempAge, tempAge), r.Disposable)
		for _, k := range kept {
			r.log.Warn("a killed rewrite of config.json left a file holding a key the keychain does not have; it is kept: move its key with torale-cred import --torale-config FILE, then delete it", "file", k)
		}
		if n > 0 {
			r.log.Info("removed temporary files a killed rewrite of config.json left behind", "dir", filepath.Dir(p), "count", n)
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			r.log.Warn("could not remove a left-over temporary file", "err", err)
		}
	}
}

// wantDirs are the directories whose entries matter: config.json's and, for
// a symlinked config.json, its target's.
func (r *watchRun) wantDirs() []string {
	if r.target != "" && filepath.Dir(r.target) != r.dir {
		return []string{r.dir, filepath.Dir(r.target)}
	}
	return []string{r.dir}
}

// ensureWatches watches each wanted directory, or while it does not exist
// its nearest existing ancestor, re-adding a watch whose directory was
// removed, renamed or replaced. It reports whether a watch was added: what
// happened while nothing watched must be read again.
func (r *watchRun) ensureWatches() bool {
	r.target = ""
	if li, err := os.Lstat(r.path); err == nil && li.Mode()&fs.ModeSymlink != 0 {
		if t, err := filepath.EvalSymlinks(r.path); err == nil {
			r.target = t
		}
	}
	want := map[string]fs.FileInfo{}
	for _, d := range r.wantDirs() {
		if p, fi := watchPoint(d); p != "" {
			want[p] = fi
		}
	}
	for p, old := range r.watches {
		if fi, ok := want[p]; !ok || !os.SameFile(fi, old) {
			_ = r.fw.Remove(p) // may already be gone with its directory
			delete(r.watches, p)
		}
	}
	added := false
	r.unwatched = false
	for p, fi := range want {
		if _, ok := r.watches[p]; ok {
			continue
		}
		if err := r.fw.Add(p); err != nil {
			r.log.Warn("cannot watch a directory; relying on the slow poll", "dir", p, "err", err)
			r.unwatched = true
			continue
		}
		r.watches[p] = fi
		added = true
		if p != r.dir && p != filepath.Dir(r.target) {
			r.log.Debug("waiting for the config directory to appear", "dir", r.dir, "watching", p)
		}
	}
	return added
}

// watchPoint is d when it is a directory, else its nearest existing ancestor.
func watchPoint(d string) (string, fs.FileInfo) {
	for p := d; ; p = filepath.Dir(p) {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			return p, fi
		}
		if filepath.Dir(p) == p {
			return "", nil
		}
	}
}

// statChanged is the poll: did config.json change since it was last seen?
func (r *watchRun) statChanged() bool {
	fi, err := os.Stat(r.path)
	if err != nil {
		fi = nil
	}
	return !r.lastSeen || !sameStat(fi, r.last)
}

// trustVerdict is why the one safe opener would refuse path now ("" when
// it would open it, or when it is absent).
func trustVerdict(path string) string {
	f, _, err := safefile.Open(path, safefile.Options{FollowLink: true})
	if f != nil {
		f.Close()
	}
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	return err.Error()
}

func sameStat(a, b fs.FileInfo) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime()) && a.Mode() == b.Mode()
}

type scanNext int

const (
	scanDone   scanNext = iota
	scanRetry           // transient failure: try again after the backoff
	scanSettle          // broken file: look again before warning
)

// scan runs one migration and decides what comes next.
func (r *watchRun) scan(ctx context.Context) scanNext {
	before, err := os.Stat(r.path)
	if err != nil {
		before = nil
	}
	// A chown or chmod (of the file, a link's target or a directory on the
	// way) changes whether the file may be read at all, with no write: the
	// trust verdict is compared too, so the daemon never keeps serving what
	// a direct read now refuses.
	if !r.Quiet {
		tightenToraleDir(r.path, r.log)
	}
	verdict := trustVerdict(r.path)
	changed := !r.lastSeen || !sameStat(before, r.last) || verdict != r.verdict
	res, err := r.Migrate(ctx)
	after, serr := os.Stat(r.path)
	if serr != nil {
		after = nil
	}
	r.last, r.lastSeen, r.verdict = after, true, trustVerdict(r.path)
	if ctx.Err() != nil {
		return scanDone
	}
	if res.Outcome == credstore.Migrated || changed {
		if r.OnChange != nil {
			r.OnChange()
		}
	}
	switch {
	case res.Outcome == credstore.Migrated:
		r.lastRetry, r.warned, r.pendingKey = "", "", ""
		attrs := []any{"path", res.Path, "profile", res.Profile, "key", res.KeyHint}
		if res.PreviousKeyHint != "" {
			attrs = append(attrs, "replaced", res.PreviousKeyHint)
		}
		r.log.Info("moved a plaintext key from config.json into the keychain", attrs...)
		if res.PreviousKeyHint != "" {
			// The replaced key may be the one in use (a stale config.json
			// back from a backup): it is kept, never advised for revoking.
			msg := fmt.Sprintf("%s from config.json replaced %s for profile %q; %s", res.KeyHint, res.PreviousKeyHint, res.Profile, credstore.KeptMessage(res.Profile, res.PreviousKeyHint))
			r.log.Warn(msg)
			if r.Notify != nil {
				if err := r.Notify(context.WithoutCancel(ctx), "Torale API key replaced", msg); err != nil {
					r.log.Debug("desktop notification failed", "err", err)
				}
			}
		}
		if res.Endpoint != "" {
			// What changed for the user's programs, and how to undo it.
			msg := fmt.Sprintf("config.json now holds a local token (tcl_...) and the local endpoint %s instead of the key: the Torale SDK keeps working unchanged through torale-cred, which adds the key to each request. To undo it: torale-cred daemon --no-endpoint", res.Endpoint)
			r.log.Info(msg, "profile", res.Profile)
			if r.Notify != nil {
				if err := r.Notify(context.WithoutCancel(ctx), "Torale API key moved into the keychain", msg); err != nil {
					r.log.Debug("desktop notification failed", "err", err)
				}
			}
		}
		if res.Warning != "" {
			r.log.Warn(res.Warning, "path", res.Path)
		}
		if err != nil {
			// The key is safe; only its metadata is missing, which a retry
			// (finding nothing left to move) would not repair.
			r.log.Warn(err.Error(), "path", res.Path)
		}
		return scanDone
	case err == nil:
		r.lastRetry, r.warned, r.pendingKey = "", "", ""
		if res.Endpoint != "" {
			r.log.Info("config.json names a new API URL: the local endpoint forwards there now, and config.json names the endpoint again", "api_url", res.APIURL, "endpoint", res.Endpoint)
		}
		return scanDone
	case res.Outcome != credstore.LeftInPlace:
		r.log.Warn("checking config.json for a plaintext key", "path", r.path, "err", err)
		return scanRetry
	case res.Problem.Transient():
		if err.Error() != r.lastRetry {
			r.log.Warn(err.Error(), "path", res.Path, "problem", string(res.Problem), "retry_in", r.backoff.String())
			r.lastRetry = err.Error()
		}
		return scanRetry
	}
	r.lastRetry = ""
	key := string(res.Problem) + "\x00" + res.Reason + "\x00" + statKey(after)
	switch {
	case key == r.warned:
		return scanDone
	case key == r.pendingKey && time.Since(r.pendingAt) >= or(r.Settle, DefaultSettle)/2:
		r.log.Warn(err.Error(), "path", res.Path, "problem", string(res.Problem))
		r.warned, r.pendingKey = key, ""
		return scanDone
	case key == r.pendingKey:
		return scanSettle
	}
	// A half-written file looks broken for a moment: warn only if it stays so.
	r.pendingKey, r.pendingAt = key, time.Now()
	return scanSettle
}

func statKey(fi fs.FileInfo) string {
	if fi == nil {
		return "absent"
	}
	return fmt.Sprintf("%d/%d/%v", fi.Size(), fi.ModTime().UnixNano(), fi.Mode())
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func newStoppedTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}
