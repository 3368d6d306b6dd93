// Package keychain is the OS keychain behind go-keyring: one item per
// profile under the service "torale", every call bounded and serialised so
// a hung Secret Service costs one timeout, and on Linux the D-Bus probe
// that tells "no bus", "no Secret Service" and "locked" apart before
// go-keyring could hang on them. It knows nothing of profiles' metadata,
// config.json or policy: the Store above it does.
package keychain

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/torale-ai/torale-cred/credstore/storeerr"
)

// Service is the keychain service name every entry is filed under; the
// account is the profile name.
const Service = "torale"

// ShelfSuffix is added to the service name for displaced keys (Shelf).
const ShelfSuffix = ".previous"

// DefaultTimeout bounds every keychain call. go-keyring has no deadline of
// its own and its Secret Service code waits forever on an unlock prompt
// nobody answers.
const DefaultTimeout = 3 * time.Second

// Fault says which way the keychain failed.
type Fault int

const (
	FaultUnavailable Fault = iota // no bus, no Secret Service, unsupported OS
	FaultLocked                   // the collection is locked
	FaultTimeout                  // no answer within the deadline
)

// Error is a keychain failure with the reason and the fix.
type Error struct {
	Fault  Fault
	Reason string // what went wrong, one clause
	Fix    string // what the user can do
}

func (e *Error) Error() string {
	var what string
	switch e.Fault {
	case FaultLocked:
		what = "the keychain is locked"
	case FaultTimeout:
		what = "the keychain did not answer in time"
	default:
		what = "the keychain is unavailable"
	}
	s := what
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.Fix != "" {
		s += "; " + e.Fix
	}
	return s
}

func (e *Error) Is(target error) bool { return target == storeerr.ErrKeychain }

// Detail is the failure without the leading "the keychain is …", for a
// line that already says it is the keychain's state.
func (e *Error) Detail() string {
	s := e.Reason
	if e.Fault == FaultLocked {
		s = "locked"
		if e.Reason != "" {
			s += " (" + e.Reason + ")"
		}
	}
	if s == "" {
		s = "no Secret Service answers"
	}
	if e.Fix != "" {
		s += "; " + e.Fix
	}
	return s
}

// State words the keychain's health in one voice for /v1/health,
// status and doctor: "ok", or "unavailable: " and why, with the fix.
func State(err error) string {
	var ke *Error
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &ke):
		return "unavailable: " + ke.Detail()
	}
	return "unavailable: " + err.Error()
}

// Keyring is the raw keychain API: go-keyring in production, an in-memory
// map in pure unit tests.
type Keyring interface {
	Get(service, user string) (string, error)
	Set(service, user, password string) error
	Delete(service, user string) error
}

// OSKeyring is the operating system's keychain through go-keyring.
type OSKeyring struct{}

func (OSKeyring) Get(s, u string) (string, error) { return keyring.Get(s, u) }
func (OSKeyring) Set(s, u, p string) error        { return keyring.Set(s, u, p) }
func (OSKeyring) Delete(s, u string) error        { return keyring.Delete(s, u) }

// Keychain holds keys per profile in the OS keychain, one item per profile.
// Every call is bounded by Timeout and calls are serialised, so a hung
// Secret Service costs at most one stuck goroutine, never a pile of them.
type Keychain struct {
	backend Keyring
	service string
	timeout time.Duration
	// allowPrompt lets a locked collection raise the desktop's unlock prompt
	// (an interactive login with a long timeout) instead of failing at once.
	allowPrompt bool
	probe       func(ctx context.Context, allowPrompt bool) error
	sem         chan struct{}
	// stuck: a call outlived the timeout and has not returned yet;
	// running: a call's goroutine has not returned. Both under mu, so the
	// goroutine's return always clears stuck.
	mu      sync.Mutex
	stuck   bool
	running bool
}

func (k *Keychain) isStuck() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.stuck
}

// Option adjusts a Keychain.
type Option func(*Keychain)

// WithTimeout sets the bound on each call (default 3 s).
func WithTimeout(d time.Duration) Option {
	return func(k *Keychain) {
		if d > 0 {
			k.timeout = d
		}
	}
}

// WithService files entries under another service name than "torale"
// (isolated tests, side-by-side installs).
func WithService(name string) Option {
	return func(k *Keychain) {
		if name != "" {
			k.service = name
		}
	}
}

// WithUnlockPrompt lets calls wait for the user to answer an unlock prompt.
func WithUnlockPrompt() Option { return func(k *Keychain) { k.allowPrompt = true } }

// WithKeyring replaces go-keyring (pure unit tests).
func WithKeyring(b Keyring) Option {
	return func(k *Keychain) { k.backend = b; k.probe = func(context.Context, bool) error { return nil } }
}

// New returns the OS keychain with its safety bounds.
func New(opts ...Option) *Keychain {
	k := &Keychain{backend: OSKeyring{}, service: Service, timeout: DefaultTimeout, probe: probeKeychain, sem: make(chan struct{}, 1)}
	for _, o := range opts {
		o(k)
	}
	return k
}

// Shelf is the same keychain under the service name plus ShelfSuffix
// (torale.previous), where displaced keys are kept; accounts there are
// not profile names. It shares this keychain's one-call-at-a-time bound.
func (k *Keychain) Shelf() *Keychain {
	return &Keychain{backend: k.backend, service: k.service + ShelfSuffix, timeout: k.timeout,
		allowPrompt: k.allowPrompt, probe: k.probe, sem: k.sem}
}

// Timeout is the bound on each call.
func (k *Keychain) Timeout() time.Duration { return k.timeout }

// Get returns the profile's key. Errors: storeerr.ErrNotFound when the
// keychain holds none, an *Error (storeerr.ErrKeychain) when it cannot say.
func (k *Keychain) Get(ctx context.Context, profile string) (string, error) {
	// A channel, not a shared variable: after a timeout do returns while
	// the backend call may still finish and write its answer.
	out := make(chan string, 1)
	err := k.do(ctx, "read", func() error {
		s, err := k.backend.Get(k.service, profile)
		out <- s
		return err
	})
	if err != nil {
		return "", err
	}
	return <-out, nil
}

// Set stores the profile's key, replacing any earlier one.
func (k *Keychain) Set(ctx context.Context, profile, key string) error {
	return k.do(ctx, "write", func() error { return k.backend.Set(k.service, profile, key) })
}

// Delete removes the profile's key; storeerr.ErrNotFound when there was none.
func (k *Keychain) Delete(ctx context.Context, profile string) error {
	return k.do(ctx, "delete", func() error { return k.backend.Delete(k.service, profile) })
}

// Ping checks that the keychain can be reached and is unlocked, without
// reading any secret.
func (k *Keychain) Ping(ctx context.Context) error {
	return k.do(ctx, "check", func() error { return nil })
}

func (k *Keychain) do(parent context.Context, op string, fn func() error) error {
	if k.isStuck() {
		// An earlier call is still waiting on a keychain that did not
		// answer within the timeout: another would only wait as long, so
		// one hung Secret Service costs a command one timeout, not one
		// per profile.
		return &Error{Fault: FaultTimeout,
			Reason: fmt.Sprintf("an earlier keychain call is still waiting after %s", k.timeout),
			Fix:    "check that the Secret Service is running and unlocked, or raise --keychain-timeout to answer an unlock prompt"}
	}
	ctx, cancel := context.WithTimeout(parent, k.timeout)
	defer cancel()
	select {
	case k.sem <- struct{}{}:
	case <-ctx.Done():
		return &Error{Fault: FaultTimeout,
			Reason: fmt.Sprintf("an earlier keychain call is still waiting after %s", k.timeout),
			Fix:    "check that the Secret Service is running and unlocked, or raise --keychain-timeout to answer an unlock prompt"}
	}
	done := make(chan error, 1)
	k.mu.Lock()
	k.running = true
	k.mu.Unlock()
	go func() {
		defer func() {
			k.mu.Lock()
			k.running, k.stuck = false, false
			k.mu.Unlock()
			<-k.sem
		}()
		if err := k.probe(ctx, k.allowPrompt); err != nil {
			done <- err
			return
		}
		done <- fn()
	}()
	select {
	case err := <-done:
		return classify(op, err)
	case <-ctx.Done():
		if parent.Err() == nil { // our own timeout, not a caller who left
			k.mu.Lock()
			k.stuck = k.running // still waiting: the keychain hung
			k.mu.Unlock()
		}
		return &Error{Fault: FaultTimeout,
			Reason: fmt.Sprintf("%s took longer than %s", op, k.timeout),
			Fix:    "check that the Secret Service is running and unlocked, or raise --keychain-timeout (TORALE_CRED_KEYCHAIN_TIMEOUT) to answer an unlock prompt"}
	}
}

// classify maps go-keyring's and D-Bus's errors onto ours; the texts of
// those errors never contain secrets.
func classify(op string, err error) error {
	var ke *Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, keyring.ErrNotFound):
		return storeerr.ErrNotFound
	case errors.As(err, &ke):
		return ke
	case errors.Is(err, keyring.ErrUnsupportedPlatform):
		return &Error{Fault: FaultUnavailable, Reason: err.Error(), Fix: "torale-cred supports the macOS Keychain, the Linux Secret Service and the Windows Credential Manager"}
	case errors.Is(err, keyring.ErrSetDataTooBig):
		return &Error{Fault: FaultUnavailable, Reason: "the keychain refused the entry as too large"}
	}
	msg := err.Error()
	if strings.Contains(msg, "failed to unlock") {
		// go-keyring's word when the collection stays locked: a Secret
		// Service D-Bus just started for us, whose login keyring nobody
		// unlocked, or a dismissed prompt. Locked, not missing.
		return &Error{Fault: FaultLocked, Reason: op + ": " + msg, Fix: unlockFix}
	}
	if strings.Contains(msg, "NoReply") || strings.Contains(msg, "timeout") {
		return &Error{Fault: FaultTimeout, Reason: op + ": " + msg, Fix: secretServiceFix}
	}
	return &Error{Fault: FaultUnavailable, Reason: op + ": " + msg, Fix: secretServiceFix}
}

// secretServiceFix is the recipe for a machine without a desktop session.
// unlockFix is what to do about a locked collection.
const unlockFix = "unlock it (log in to the desktop, or run: echo -n PASSWORD | gnome-keyring-daemon --replace --unlock --components=secrets), or run torale-cred with --keychain-timeout 60s on a desktop to answer the unlock prompt"

// headlessFix is what works outside a login session (cron, a systemd
// timer, su), where no desktop unlocks the keychain.
const headlessFix = "outside a login session (cron, a systemd timer, su) keep torale-cred's daemon running in your login session (torale-cred service install; loginctl enable-linger keeps your services after you log out), which this command then asks instead of the keychain"

// setSessionBus is the DBUS_SESSION_BUS_ADDRESS torale-cred set itself
// (probe_linux.go), "" when it set none.
var setSessionBus atomic.Value

// SetSessionBus is the session bus address this process put in its own
// environment to reach the keychain (found as paths.SessionBus finds it),
// or "" when it put none there: a command it runs need not inherit it.
func SetSessionBus() string {
	a, _ := setSessionBus.Load().(string)
	return a
}

const secretServiceFix = "start a Secret Service (on a desktop, log in to GNOME or KDE; on a headless Linux box run: dbus-run-session -- sh -c 'echo -n PASSWORD | gnome-keyring-daemon --unlock --components=secrets; exec $SHELL')"
