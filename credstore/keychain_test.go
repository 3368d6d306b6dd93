package credstore

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/internal/testkeyring"
)

// hangingBackend blocks every call until released, like go-keyring waiting
// on an unlock prompt nobody answers.
type hangingBackend struct{ release chan struct{} }

func (h hangingBackend) Get(string, string) (string, error) { <-h.release; return "", nil }
func (h hangingBackend) Set(string, string, string) error   { <-h.release; return nil }
func (h hangingBackend) Delete(string, string) error        { <-h.release; return nil }

func TestKeychainTimeoutIsBoundedAndDistinct(t *testing.T) {
	h := hangingBackend{release: make(chan struct{})}
	defer close(h.release)
	k := NewKeychain(WithKeyring(h), WithTimeout(50*time.Millisecond))
	start := time.Now()
	_, err := k.Get(context.Background(), "default")
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("Get took %s, want about 50ms", d)
	}
	var ke *KeychainError
	if !errors.As(err, &ke) || ke.Fault != FaultTimeout {
		t.Fatalf("err = %v, want a timeout KeychainError", err)
	}
	if errors.Is(err, ErrNotFound) || !errors.Is(err, ErrKeychain) {
		t.Fatalf("a timeout must be ErrKeychain and never ErrNotFound: %v", err)
	}
}

func TestKeychainHungCallsDoNotPileUp(t *testing.T) {
	h := hangingBackend{release: make(chan struct{})}
	k := NewKeychain(WithKeyring(h), WithTimeout(20*time.Millisecond))
	before := runtime.NumGoroutine()
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = k.Get(context.Background(), "p") }()
	}
	wg.Wait()
	// One goroutine may still be stuck inside the backend; no more.
	if extra := runtime.NumGoroutine() - before; extra > 2 {
		t.Fatalf("%d goroutines left behind after 50 timed-out calls", extra)
	}
	close(h.release)
}

type mapBackend struct {
	mu sync.Mutex
	m  map[string]string
}

func (b *mapBackend) Get(s, u string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.m[s+"/"+u]
	if !ok {
		return "", errNotFoundLike
	}
	return v, nil
}
func (b *mapBackend) Set(s, u, p string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m[s+"/"+u] = p
	return nil
}
func (b *mapBackend) Delete(s, u string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.m[s+"/"+u]; !ok {
		return errNotFoundLike
	}
	delete(b.m, s+"/"+u)
	return nil
}

// errNotFoundLike is go-keyring's own sentinel, as the real backend returns it.
var errNotFoundLike = keyringErrNotFound()

func TestStorePutKeepsOldHintAndResetsClock(t *testing.T) {
	b := &mapBackend{m: map[string]string{}}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := &Store{Keychain: NewKeychain(WithKeyring(b)), StateFile: StateFile{Dir: t.TempDir()}, Now: func() time.Time { return now }}
	ctx := context.Background()
	k1, k2 := "sk_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa11111", "sk_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb22222"
	if _, err := s.Put(ctx, "default", k1, PutOptions{Source: SourceLogin}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(48 * time.Hour)
	if _, err := s.Put(ctx, "default", k1, PutOptions{Source: SourceConfig}); err != nil {
		t.Fatal(err)
	}
	st, _ := s.StateFile.Load()
	if p := st.Profiles["default"]; !p.StoredAt.Equal(now.Add(-48*time.Hour)) || p.Source != SourceLogin {
		t.Fatalf("the same key again must not restart the clock: %+v", p)
	}
	if _, err := s.Put(ctx, "default", k2, PutOptions{Source: SourceConfig}); err != nil {
		t.Fatal(err)
	}
	st, _ = s.StateFile.Load()
	p := st.Profiles["default"]
	if !p.StoredAt.Equal(now) || p.Source != SourceConfig || p.KeyHint != "sk_...22222" || p.PreviousKeyHint != "sk_...11111" {
		t.Fatalf("metadata after a new key: %+v", p)
	}
	b2, _ := os.ReadFile(s.StateFile.Path())
	if strings.Contains(string(b2), k1) || strings.Contains(string(b2), k2) {
		t.Fatal("state.json holds a key")
	}
	if _, err := s.Put(ctx, "default", "sk_short", PutOptions{}); !errors.Is(err, ErrBadKey) {
		t.Fatalf("bad key: %v", err)
	}
	if err := s.Delete(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "default"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

// The rest runs against the real Secret Service that `make test` starts.

func realStore(t *testing.T) *Store {
	testkeyring.Require(t)
	return &Store{Keychain: NewKeychain(WithService(testkeyring.Service())), StateFile: StateFile{Dir: t.TempDir()}}
}

func TestRealKeychainRoundTripOneItem(t *testing.T) {
	s := realStore(t)
	ctx := context.Background()
	if _, err := s.Keychain.Get(ctx, "default"); !errors.Is(err, ErrNotFound) || errors.Is(err, ErrKeychain) {
		t.Fatalf("empty keychain: %v", err)
	}
	k1, k2 := "sk_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa11111", "sk_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb22222"
	for _, k := range []string{k1, k2} {
		if _, err := s.Put(ctx, "default", k, PutOptions{Source: SourceLogin}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Keychain.Get(ctx, "default")
	if err != nil || got != k2 {
		t.Fatalf("Get = %q, %v", Hint(got), err)
	}
	// One item per profile, never a second copy.
	out, err := exec.Command("secret-tool", "search", "--all", "service", s.Keychain.(*Keychain).service, "username", "default").CombinedOutput()
	if err != nil {
		t.Fatalf("secret-tool: %v %s", err, out)
	}
	if n := strings.Count(string(out), "[/"); n != 1 {
		t.Fatalf("%d keychain items for one profile:\n%s", n, out)
	}
	if err := s.Delete(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Keychain.Get(ctx, "default"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

func TestRealKeychainNoBus(t *testing.T) {
	testkeyring.Require(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	k := NewKeychain(WithService(testkeyring.Service()))
	start := time.Now()
	_, err := k.Get(context.Background(), "default")
	if time.Since(start) > 3*time.Second {
		t.Fatal("took longer than 3s")
	}
	var ke *KeychainError
	if !errors.As(err, &ke) || ke.Fault != FaultUnavailable || !strings.Contains(err.Error(), "gnome-keyring-daemon --unlock") {
		t.Fatalf("err = %v, want unavailable with the recipe", err)
	}
}

// inChild runs the calling test again in a fresh process with env added
// and reports whether this process is that child. godbus keeps one session
// connection per process, so a test on another bus needs its own process.
func inChild(t *testing.T, env ...string) bool {
	t.Helper()
	if os.Getenv("CREDSTORE_CHILD") == t.Name() {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v")
	cmd.Env = append(append(os.Environ(), "CREDSTORE_CHILD="+t.Name()), env...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS") {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
	return false
}

func TestRealBusWithoutSecretService(t *testing.T) {
	testkeyring.Require(t)
	if os.Getenv("CREDSTORE_CHILD") == "" {
		inChild(t, "DBUS_SESSION_BUS_ADDRESS="+testkeyring.PrivateBus(t))
		return
	}
	k := NewKeychain(WithService(testkeyring.Service()))
	start := time.Now()
	_, err := k.Get(context.Background(), "default")
	if time.Since(start) > 3*time.Second {
		t.Fatal("took longer than 3s")
	}
	var ke *KeychainError
	if !errors.As(err, &ke) || ke.Fault != FaultUnavailable || !strings.Contains(err.Error(), "no Secret Service") {
		t.Fatalf("err = %v, want unavailable: no Secret Service", err)
	}
}

func TestRealLockedKeychain(t *testing.T) {
	testkeyring.Require(t)
	if os.Getenv("CREDSTORE_CHILD") == "" {
		bus := testkeyring.PrivateBus(t)
		data := t.TempDir()
		// Create the login keyring with one password, then restart the daemon
		// with another: the collection stays locked, as after a failed login.
		testkeyring.StartKeyring(t, bus, data, "right-password")()
		testkeyring.StartKeyring(t, bus, data, "wrong-password")
		inChild(t, "DBUS_SESSION_BUS_ADDRESS="+bus)
		return
	}
	k := NewKeychain(WithService(testkeyring.Service()))
	start := time.Now()
	_, err := k.Get(context.Background(), "default")
	if time.Since(start) > 3*time.Second {
		t.Fatal("took longer than 3s")
	}
	var ke *KeychainError
	if !errors.As(err, &ke) || ke.Fault != FaultLocked || errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want locked", err)
	}
	if err := k.Set(context.Background(), "default", "sk_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa11111"); !errors.As(err, &ke) || ke.Fault != FaultLocked {
		t.Fatalf("Set on a locked keychain: %v", err)
	}
}

// go-keyring's "failed to unlock" (a Secret Service that D-Bus started for
// us with its login keyring still locked) is a locked keychain, exit 4 with
// the unlock recipe, never "unavailable" or "no key".
func TestClassifyFailedUnlockIsLocked(t *testing.T) {
	err := classify("read", errors.New("failed to unlock correct collection '/org/freedesktop/secrets/aliases/default'"))
	var ke *KeychainError
	if !errors.As(err, &ke) || ke.Fault != FaultLocked {
		t.Fatalf("classify = %#v, want FaultLocked", err)
	}
	if !errors.Is(err, ErrKeychain) || errors.Is(err, ErrNotFound) {
		t.Fatalf("classify = %v: want a keychain error, not not-found", err)
	}
	if !strings.Contains(err.Error(), "the keychain is locked") || !strings.Contains(err.Error(), "--unlock") {
		t.Errorf("message %q lacks the state or the fix", err)
	}
}

// slowKeyring answers after a delay, like a Secret Service under load.
type slowKeyring struct{ delay time.Duration }

func (s slowKeyring) Get(_, _ string) (string, error) {
	time.Sleep(s.delay)
	return "", keyringErrNotFound()
}
func (s slowKeyring) Set(_, _, _ string) error { time.Sleep(s.delay); return nil }
func (s slowKeyring) Delete(_, _ string) error { time.Sleep(s.delay); return nil }

// A call that outlives the timeout makes later calls fail at once until it
// returns (one hung keychain costs one timeout), and its return always
// clears that, whatever the timing; a caller that left never marks it.
func TestKeychainStuckClears(t *testing.T) {
	k := NewKeychain(WithKeyring(slowKeyring{delay: 150 * time.Millisecond}), WithTimeout(50*time.Millisecond))
	_, err := k.Get(context.Background(), "p")
	if !errors.Is(err, ErrKeychain) {
		t.Fatalf("slow call: %v, want a timeout", err)
	}
	start := time.Now()
	if _, err := k.Get(context.Background(), "p"); !errors.Is(err, ErrKeychain) || time.Since(start) > 20*time.Millisecond {
		t.Fatalf("while stuck: %v after %v, want an immediate timeout", err, time.Since(start))
	}
	time.Sleep(200 * time.Millisecond)
	k2 := NewKeychain(WithKeyring(slowKeyring{}), WithTimeout(time.Second))
	for i := range 200 {
		ctx, cancel := context.WithCancel(context.Background())
		if i%2 == 0 {
			cancel()
		}
		_, _ = k2.Get(ctx, "p")
		cancel()
	}
	time.Sleep(50 * time.Millisecond)
	if _, err := k2.Get(context.Background(), "p"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after callers left: %v, want the keychain's answer", err)
	}
	// Once the slow call returned, the next one waits its full timeout
	// again instead of failing at once.
	start = time.Now()
	_, _ = k.Get(context.Background(), "p")
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Fatalf("still stuck after the slow call returned (answered in %v)", d)
	}
}
