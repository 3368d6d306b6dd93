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
	"sync/atomic"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/internal/testkeyring"
	"github.com/torale-ai/torale-cred/internal/toraleconfig"
)

const (
	keyA = "sk_WATCHwatchWATCHwatchWATCHwatchAAAAA"
	keyB = "sk_WATCHwatchWATCHwatchWATCHwatchBBBBB_-0123456789"
	keyC = "sk_WATCHwatchWATCHwatchWATCHwatchCCCCC"
)

// lockedBuffer collects log lines from the watcher's goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// watchFixture is a HOME, a Store on the test Secret Service and a running
// Watcher over ~/.torale/config.json.
type watchFixture struct {
	t       *testing.T
	home    string
	dir     string
	path    string
	store   *credstore.Store
	w       *Watcher
	log     *lockedBuffer
	changes atomic.Int32
	kick    chan struct{}
	stop    func()
}

func newWatchFixture(t testing.TB, configure func(*watchFixture)) *watchFixture {
	t.Helper()
	testkeyring.Require(t)
	home := t.TempDir()
	f := &watchFixture{home: home, dir: filepath.Join(home, ".torale"), log: &lockedBuffer{}, kick: make(chan struct{})}
	if tt, ok := t.(*testing.T); ok {
		f.t = tt
	}
	f.path = filepath.Join(f.dir, "config.json")
	f.store = &credstore.Store{
		Keychain:   keychain.New(keychain.WithService(testkeyring.Service())),
		StateFile:  credstore.StateFile{Dir: filepath.Join(home, "state")},
		ConfigPath: f.path,
	}
	f.w = &Watcher{
		Path:         f.path,
		Migrate:      f.store.MigrateConfig,
		Logger:       slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnChange:     func() { f.changes.Add(1) },
		Kick:         f.kick,
		PollInterval: time.Hour, // events alone must do; the poll has its own test
		RetryMin:     50 * time.Millisecond,
		RetryMax:     200 * time.Millisecond,
		Settle:       100 * time.Millisecond,
	}
	if configure != nil {
		configure(f)
	}
	t.Cleanup(func() { _ = f.store.Keychain.Delete(context.Background(), credstore.DefaultProfile) })
	return f
}

func (f *watchFixture) run(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.w.Run(ctx) }()
	var once sync.Once
	f.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(patience):
				t.Error("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(f.stop)
	// Run adds its watches, then looks once and calls OnChange (the first
	// look always counts as a change): from then on the test's writes are
	// seen. (Later OnChange calls are no such signal: a change that lands
	// while the watcher is inside a look may not be reported as one.)
	for deadline := time.Now().Add(patience); f.changes.Load() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the watcher never finished its first look\nlog:\n%s", f.log)
		}
	}
}

// caughtUp returns once the watcher has finished what it was doing: a
// kick is taken only between two looks. (The kick makes it look once
// more, so use it for checks that nothing happened, not to wait for an
// event the watcher must notice by itself.)
func (f *watchFixture) caughtUp(t testing.TB) {
	t.Helper()
	select {
	case f.kick <- struct{}{}:
	case <-time.After(patience):
		t.Fatal("the watcher is stuck in a look")
	}
}

// lookedAgain returns once the watcher has finished a whole look at
// config.json that began after it was called: the first kick starts one,
// the second is taken once it is over.
func (f *watchFixture) lookedAgain(t testing.TB) {
	t.Helper()
	f.caughtUp(t)
	f.caughtUp(t)
}

// watchingAncestor waits until the watcher has moved its watch up from
// the missing config directory more than n times (its debug line).
func (f *watchFixture) watchingAncestor(t testing.TB, n int) {
	t.Helper()
	waitFor(t, func() bool { return strings.Count(f.log.String(), "waiting for the config directory to appear") > n })
}

func config(key string, extra ...string) string {
	fields := []string{`"api_url": "https://torale.example.test"`}
	if key != "" {
		fields = append(fields, `"api_key": "`+key+`"`)
	}
	fields = append(fields, extra...)
	return "{\n  " + strings.Join(fields, ",\n  ") + "\n}\n"
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// renameOver replaces path as editors and the official tools' atomic
// writers do: a temporary file renamed over it.
func renameOver(t testing.TB, path, content string) {
	t.Helper()
	tmp := path + ".swp"
	writeFile(t, tmp, content)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// waitMigrated waits until the keychain holds key, the metadata names it
// and config.json is want.
func (f *watchFixture) waitMigrated(t testing.TB, key, want string) {
	t.Helper()
	deadline := time.Now().Add(patience)
	var got []byte
	var stored string
	var err error
	for time.Now().Before(deadline) {
		got, _ = os.ReadFile(f.path)
		if string(got) == want {
			stored, err = f.store.Keychain.Get(context.Background(), credstore.DefaultProfile)
			if err == nil && stored == key {
				if st, _ := f.store.StateFile.Load(); st != nil && st.Profiles[credstore.DefaultProfile] != nil &&
					st.Profiles[credstore.DefaultProfile].KeyHint == apikey.Hint(key) {
					return
				}
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("not migrated within %s: config.json = %q, keychain = %s (%v)\nlog:\n%s", patience, got, apikey.Hint(stored), err, f.log)
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(patience); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met in time")
}

func TestWatcherMigratesAtStart(t *testing.T) {
	t.Parallel()
	f := newWatchFixture(t, nil)
	writeFile(t, f.path, config(keyA, `"zeta": [1, 2]`))
	f.run(t)
	f.waitMigrated(t, keyA, config("", `"zeta": [1, 2]`))
	// The log line and OnChange follow the metadata, which follows the rewrite.
	waitFor(t, func() bool {
		return strings.Contains(f.log.String(), "moved a plaintext key") && f.changes.Load() > 0
	})
	if strings.Contains(f.log.String(), keyA) {
		t.Errorf("the log shows the key:\n%s", f.log)
	}
}

func TestWatcherDirectoryCreatedLater(t *testing.T) {
	t.Parallel()
	f := newWatchFixture(t, nil)
	f.run(t)
	writeFile(t, f.path, config(keyA)) // MkdirAll, then the file at once
	f.waitMigrated(t, keyA, config(""))
}

func TestWatcherDirectoryCreatedLaterDeep(t *testing.T) {
	t.Parallel()
	f := newWatchFixture(t, func(f *watchFixture) {
		f.dir = filepath.Join(f.home, "a", "b", ".torale")
		f.path = filepath.Join(f.dir, "config.json")
		f.store.ConfigPath, f.w.Path = f.path, f.path
	})
	f.run(t)
	// One level at a time, each watched before the next appears.
	for _, d := range []string{"a", "a/b"} {
		if err := os.Mkdir(filepath.Join(f.home, d), 0o700); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return strings.Contains(f.log.String(), "watching="+filepath.Join(f.home, d)+"\n") })
	}
	writeFile(t, f.path, config(keyA))
	f.waitMigrated(t, keyA, config(""))
}

func TestWatcherFileDeletedAndRecreated(t *testing.T) {
	t.Parallel()
	f := newWatchFixture(t, nil)
	writeFile(t, f.path, config(keyA))
	f.run(t)
	f.waitMigrated(t, keyA, config(""))
	if err := os.Remove(f.path); err != nil {
		t.Fatal(err)
	}
	f.lookedAgain(t) // at config.json gone
	// A deleted file is not a logout.
	if k, err := f.store.Keychain.Get(context.Background(), credstore.DefaultProfile); err != nil || k != keyA {
		t.Fatalf("after deleting config.json the keychain holds %s (%v)", apikey.Hint(k), err)
	}
	writeFile(t, f.path, config(keyB))
	f.waitMigrated(t, keyB, config(""))
	st, _ := f.store.StateFile.Load()
	if p := st.Profiles[credstore.DefaultProfile]; p == nil || p.PreviousKeyHint != apikey.Hint(keyA) || p.Source != credstore.SourceConfig {
		t.Errorf("metadata = %+v", p)
	}
}

func TestWatcherRenameOver(t *testing.T) {
	t.Parallel()
	f := newWatchFixture(t, nil)
	writeFile(t, f.path, config(""))
	f.run(t)
	renameOver(t, f.path, config(keyA, `"editor": "vim"`))
	f.waitMigrated(t, keyA, config("", `"editor": "vim"`))
}

func TestWatcherBurstActsOnFinalContent(t *testing.T) {
	t.Parallel()
	f := newWatchFixture(t, nil)
	f.run(t)
	keys := []string{keyA, keyB, keyC}
	var last string
	for i := range 30 {
		last = keys[i%3]
		content := config(last, `"n": `+string(rune('0'+i%10)))
		if i%2 == 0 {
			writeFile(t, f.path, content)
		} else {
			renameOver(t, f.path, content)
		}
		time.Sleep(time.Millisecond)
	}
	f.waitMigrated(t, last, config("", `"n": 9`))
}

func TestWatcherDirectoryRemovedAndRecreated(t *testing.T) {
	t.Parallel()
	f := newWatchFixture(t, nil)
	writeFile(t, f.path, config(keyA))
	f.run(t)
	f.waitMigrated(t, keyA, config(""))

	seen := strings.Count(f.log.String(), "waiting for the config directory to appear")
	if err := os.RemoveAll(f.dir); err != nil {
		t.Fatal(err)
	}
	f.watchingAncestor(t, seen) // the watcher found it gone
	writeFile(t, f.path, config(keyB))
	f.waitMigrated(t, keyB, config(""))

	// Renamed away: the watch must not follow the old directory.
	seen = strings.Count(f.log.String(), "waiting for the config directory to appear")
	if err := os.Rename(f.dir, f.dir+".bak"); err != nil {
		t.Fatal(err)
	}
	f.watchingAncestor(t, seen)
	writeFile(t, f.path, config(keyC))
	f.waitMigrated(t, keyC, config(""))

	// Removed and recreated faster than the watcher reacts.
	if err := os.RemoveAll(f.dir); err != nil {
		t.Fatal(err)
	}
	writeFile(t, f.path, config(keyA))
	f.waitMigrated(t, keyA, config(""))
}

func TestWatcherSymlinkTarget(t *testing.T) {
	t.Parallel()
	f := newWatchFixture(t, nil)
	dotfiles := filepath.Join(f.home, "dotfiles", "torale")
	target := filepath.Join(dotfiles, "config.json")
	writeFile(t, target, config(""))
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, f.path); err != nil {
		t.Fatal(err)
	}
	f.run(t)
	// Written in the target's directory: no event in ~/.torale at all.
	renameOver(t, target, config(keyA))
	f.waitMigrated(t, keyA, config(""))
	if li, err := os.Lstat(f.path); err != nil || li.Mode()&os.ModeSymlink == 0 {
		t.Fatal("the symlink was replaced")
	}
}

// The poll catches a write no directory event reports (here a write through
// a hard link elsewhere, as kqueue can miss writes).
func TestWatcherPollFallback(t *testing.T) {
	t.Parallel()
	f := newWatchFixture(t, func(f *watchFixture) { f.w.PollInterval = 50 * time.Millisecond })
	writeFile(t, f.path, config(""))
	other := filepath.Join(f.home, "elsewhere")
	if err := os.Mkdir(other, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(other, "link.json")
	if err := os.Link(f.path, link); err != nil {
		t.Fatal(err)
	}
	f.run(t)
	fh, err := os.OpenFile(link, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.WriteString(config(keyA)); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	f.waitMigrated(t, keyA, config(""))
	// The other name still holds the key: the user is told.
	waitFor(t, func() bool { return strings.Contains(f.log.String(), "another hard link") })
}

// A broken file is left alone with one warning, however many times it is
// looked at; fixing it moves the key.
func TestWatcherMalformedWarnsOnce(t *testing.T) {
	t.Parallel()
	// Settle as short as it goes: a look that would warn again does so at
	// once, not after a wait this test would have to time.
	f := newWatchFixture(t, func(f *watchFixture) { f.w.Settle = time.Nanosecond })
	broken := `{"api_key": "` + keyA + `", "api_u`
	writeFile(t, f.path, broken)
	f.run(t)
	// Warned once it stayed broken for Settle; looked at again and again
	// after that (each kick is a look, and each caughtUp waits for the
	// look before it), it is not warned again.
	waitFor(t, func() bool { return strings.Contains(f.log.String(), "level=WARN") })
	for range 3 {
		f.caughtUp(t)
	}
	if got, _ := os.ReadFile(f.path); string(got) != broken {
		t.Fatal("the broken file was changed")
	}
	log := f.log.String()
	if n := strings.Count(log, "level=WARN"); n != 1 || !strings.Contains(log, "half-written") || strings.Contains(log, keyA) {
		t.Fatalf("want one warning without the key, got %d:\n%s", n, log)
	}
	if _, err := f.store.Keychain.Get(context.Background(), credstore.DefaultProfile); !errors.Is(err, storeerr.ErrNotFound) {
		t.Fatalf("keychain changed: %v", err)
	}
	writeFile(t, f.path, config(keyA))
	f.waitMigrated(t, keyA, config(""))
}

// A half-written file that is completed at once draws no warning.
func TestWatcherHalfWriteIsNotWarned(t *testing.T) {
	t.Parallel()
	// However slowly this machine completes the write, it does so within
	// Settle: a warning could only come from not waiting for Settle.
	f := newWatchFixture(t, func(f *watchFixture) { f.w.Settle = time.Hour })
	f.run(t)
	full := config(keyA)
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	fh, err := os.Create(f.path)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fh.WriteString(full[:20])
	_ = fh.Sync()
	f.lookedAgain(t) // the watcher saw it broken
	_, _ = fh.WriteString(full[20:])
	fh.Close()
	f.waitMigrated(t, keyA, config(""))
	f.caughtUp(t)
	if strings.Contains(f.log.String(), "level=WARN") {
		t.Errorf("a write in progress was warned about:\n%s", f.log)
	}
}

// The keychain unavailable: the key stays in the file and moves once the
// keychain is back, without another write.
func TestWatcherRetriesWhenKeychainReturns(t *testing.T) {
	f := newWatchFixture(t, nil)
	bus := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	writeFile(t, f.path, config(keyA))
	f.run(t)
	waitFor(t, func() bool { return strings.Contains(f.log.String(), "keychain is unavailable") })
	if got, _ := os.ReadFile(f.path); string(got) != config(keyA) {
		t.Fatal("the key left the file while the keychain was unavailable")
	}
	os.Setenv("DBUS_SESSION_BUS_ADDRESS", bus)
	f.waitMigrated(t, keyA, config(""))
	if n := strings.Count(f.log.String(), "keychain is unavailable"); n != 1 {
		t.Errorf("the same keychain failure was logged %d times", n)
	}
}

// Nothing to do (no file, no key) is quiet and touches nothing.
func TestWatcherQuietWithoutKey(t *testing.T) {
	t.Parallel()
	f := newWatchFixture(t, nil)
	f.run(t)
	writeFile(t, f.path, config(""))
	f.lookedAgain(t)
	if got, _ := os.ReadFile(f.path); string(got) != config("") {
		t.Fatal("file changed")
	}
	if strings.Contains(f.log.String(), "level=WARN") || strings.Contains(f.log.String(), "level=INFO") {
		t.Errorf("log:\n%s", f.log)
	}
	if snap, err := toraleconfig.Load(f.path); err != nil || snap.Config.HasKey {
		t.Fatal(snap.Config, err)
	}
}

func TestWatcherNeedsPathAndMigrate(t *testing.T) {
	t.Parallel()
	if err := (&Watcher{}).Run(context.Background()); err == nil {
		t.Fatal("Run without Path and Migrate succeeded")
	}
}
