package keychain

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/internal/childtest"
	"github.com/torale-ai/torale-cred/internal/testkeyring"
)

// hangingBackend blocks every call until released, like go-keyring waiting
// on an unlock prompt nobody answers.
type hangingBackend struct{ release chan struct{} }

func (h hangingBackend) Get(string, string) (string, error) { <-h.release; return "", nil }
func (h hangingBackend) Set(string, string, string) error   { <-h.release; return nil }
func (h hangingBackend) Delete(string, string) error        { <-h.release; return nil }

// patience bounds the waits of these tests: long enough for any loaded
// machine, it only turns a hang into a failure. No test asserts how fast
// anything ran.
const patience = 30 * time.Second

// returnsWhile runs fn and fails t unless it returns within patience; fn's
// backend is still hung meanwhile, so returning at all shows fn did not
// wait for it.
func returnsWhile(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(patience):
		t.Fatalf("%s waited for the hung keychain", what)
	}
}

func TestKeychainTimeoutIsBoundedAndDistinct(t *testing.T) {
	h := hangingBackend{release: make(chan struct{})}
	defer close(h.release)
	k := New(WithKeyring(h), WithTimeout(50*time.Millisecond))
	var err error
	// The backend never answers before the test ends: Get returning at all
	// is its timeout at work.
	returnsWhile(t, "Get", func() { _, err = k.Get(context.Background(), "default") })
	var ke *Error
	if !errors.As(err, &ke) || ke.Fault != FaultTimeout {
		t.Fatalf("err = %v, want a timeout Error", err)
	}
	if errors.Is(err, storeerr.ErrNotFound) || !errors.Is(err, storeerr.ErrKeychain) {
		t.Fatalf("a timeout must be storeerr.ErrKeychain and never storeerr.ErrNotFound: %v", err)
	}
}

func TestKeychainHungCallsDoNotPileUp(t *testing.T) {
	h := hangingBackend{release: make(chan struct{})}
	k := New(WithKeyring(h), WithTimeout(20*time.Millisecond))
	defer close(h.release)
	before := runtime.NumGoroutine()
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = k.Get(context.Background(), "p") }()
	}
	wg.Wait()
	// One goroutine may still be stuck inside the backend; no more. The
	// callers' goroutines have called Done but may not have exited yet, so
	// wait for them to go: goroutines stuck in the backend never would
	// (it answers only once the test is over).
	var extra int
	for deadline := time.Now().Add(patience); ; time.Sleep(5 * time.Millisecond) {
		if extra = runtime.NumGoroutine() - before; extra <= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left behind after 50 timed-out calls", extra)
		}
	}
}

// The rest runs against the real Secret Service that `make test` starts.

func TestRealKeychainNoBus(t *testing.T) {
	testkeyring.Require(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	// A timeout far above any D-Bus round trip: answering FaultUnavailable
	// or FaultLocked (not FaultTimeout) is what shows it did not wait.
	k := New(WithService(testkeyring.Service()), WithTimeout(patience))
	_, err := k.Get(context.Background(), "default")
	var ke *Error
	if !errors.As(err, &ke) || ke.Fault != FaultUnavailable || !strings.Contains(err.Error(), "gnome-keyring-daemon --unlock") {
		t.Fatalf("err = %v, want unavailable with the recipe", err)
	}
}

func TestRealBusWithoutSecretService(t *testing.T) {
	testkeyring.Require(t)
	if !childtest.IsChild(t) {
		childtest.Run(t, "DBUS_SESSION_BUS_ADDRESS="+testkeyring.PrivateBus(t))
		return
	}
	// A timeout far above any D-Bus round trip: answering FaultUnavailable
	// or FaultLocked (not FaultTimeout) is what shows it did not wait.
	k := New(WithService(testkeyring.Service()), WithTimeout(patience))
	_, err := k.Get(context.Background(), "default")
	var ke *Error
	if !errors.As(err, &ke) || ke.Fault != FaultUnavailable || !strings.Contains(err.Error(), "no Secret Service") {
		t.Fatalf("err = %v, want unavailable: no Secret Service", err)
	}
}

func TestRealLockedKeychain(t *testing.T) {
	testkeyring.Require(t)
	if !childtest.IsChild(t) {
		bus := testkeyring.PrivateBus(t)
		data := t.TempDir()
		// Create the login keyring with one password, then restart the daemon
		// with another: the collection stays locked, as after a failed login.
		testkeyring.StartKeyring(t, bus, data, "right-password")()
		testkeyring.StartKeyring(t, bus, data, "wrong-password")
		childtest.Run(t, "DBUS_SESSION_BUS_ADDRESS="+bus)
		return
	}
	// A timeout far above any D-Bus round trip: answering FaultUnavailable
	// or FaultLocked (not FaultTimeout) is what shows it did not wait.
	k := New(WithService(testkeyring.Service()), WithTimeout(patience))
	_, err := k.Get(context.Background(), "default")
	var ke *Error
	if !errors.As(err, &ke) || ke.Fault != FaultLocked || errors.Is(err, storeerr.ErrNotFound) {
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
	var ke *Error
	if !errors.As(err, &ke) || ke.Fault != FaultLocked {
		t.Fatalf("classify = %#v, want FaultLocked", err)
	}
	if !errors.Is(err, storeerr.ErrKeychain) || errors.Is(err, storeerr.ErrNotFound) {
		t.Fatalf("classify = %v: want a keychain error, not not-found", err)
	}
	if !strings.Contains(err.Error(), "the keychain is locked") || !strings.Contains(err.Error(), "--unlock") {
		t.Errorf("message %q lacks the state or the fix", err)
	}
}

// gatedKeyring tells entered of every call, then holds it until gate is
// closed and answers "not found": a Secret Service that hangs until the
// test lets it answer.
type gatedKeyring struct {
	gate    chan struct{}
	entered chan struct{}
}

func (g gatedKeyring) Get(_, _ string) (string, error) {
	g.entered <- struct{}{}
	<-g.gate
	return "", keyringErrNotFound()
}
func (g gatedKeyring) Set(_, _, _ string) error { _, err := g.Get("", ""); return err }
func (g gatedKeyring) Delete(_, _ string) error { _, err := g.Get("", ""); return err }

// idle waits until no call of k is running (its one slot is free).
func idle(t *testing.T, k *Keychain) {
	t.Helper()
	select {
	case k.sem <- struct{}{}:
		<-k.sem
	case <-time.After(patience):
		t.Fatal("a keychain call never returned")
	}
}

// A call that outlives the timeout makes later calls fail at once until it
// returns (one hung keychain costs one timeout), and its return always
// clears that, whatever the timing; a caller that left never marks it.
func TestKeychainStuckClears(t *testing.T) {
	ctx := context.Background()
	g := gatedKeyring{gate: make(chan struct{}), entered: make(chan struct{}, 16)}
	var opened sync.Once
	open := func() { opened.Do(func() { close(g.gate) }) }
	defer open()
	k := New(WithKeyring(g), WithTimeout(50*time.Millisecond))
	if _, err := k.Get(ctx, "p"); !errors.Is(err, storeerr.ErrKeychain) {
		t.Fatalf("hung call: %v, want a timeout", err)
	}
	select {
	case <-g.entered:
	case <-time.After(patience):
		t.Fatal("harness: the hung call never reached the keychain")
	}
	// While it is stuck, a call fails at once: it neither reaches the
	// keychain nor waits for its slot, which the hung call holds until the
	// gate opens (after this), however long the timeout.
	k.timeout = time.Hour
	var err error
	returnsWhile(t, "a call while the keychain is stuck", func() { _, err = k.Get(ctx, "p") })
	if !errors.Is(err, storeerr.ErrKeychain) || errors.Is(err, storeerr.ErrNotFound) {
		t.Fatalf("while stuck: %v, want an immediate timeout", err)
	}
	if n := len(g.entered); n != 0 {
		t.Fatalf("while stuck: %d more calls reached the keychain, want none", n)
	}
	// The hung call returns: the next call asks the keychain again and
	// gets its answer, instead of failing at once.
	k.timeout = patience
	open()
	idle(t, k)
	if _, err := k.Get(ctx, "p"); !errors.Is(err, storeerr.ErrNotFound) {
		t.Fatalf("after the hung call returned: %v, want the keychain's answer (still stuck?)", err)
	}

	// Callers that leave (half of them before their call even starts) never
	// mark the keychain stuck, however their leaving interleaves with the
	// calls' returns.
	k2 := New(WithKeyring(&testkeyring.Memory{}), WithTimeout(patience))
	for i := range 200 {
		ctx, cancel := context.WithCancel(context.Background())
		if i%2 == 0 {
			cancel()
		}
		_, _ = k2.Get(ctx, "p")
		cancel()
	}
	idle(t, k2)
	if _, err := k2.Get(ctx, "p"); !errors.Is(err, storeerr.ErrNotFound) {
		t.Fatalf("after callers left: %v, want the keychain's answer", err)
	}
}
