//go:build linux

package notify_test

import (
	"context"
	"errors"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/torale-ai/torale-cred/internal/notify"
	"github.com/torale-ai/torale-cred/internal/notify/notifytest"
)

// The questions below are asked through a real dbus-daemon (PrivateBus)
// to the fake notification server, which answers as the test says.

var confirm = []notify.Choice{
	{Key: "allow_once", Label: "Allow once"},
	{Key: "allow_always", Label: "Allow always"},
	{Key: "deny", Label: "Deny"},
}

const (
	askTitle = "torale-cred: allow a program?"
	askBody  = `/usr/bin/curl (pid 4242) asks for the key of profile "default"`
)

type answer struct {
	key string
	err error
	d   time.Duration
}

// askAsync asks in the background; the answer arrives on the channel.
func askAsync(ctx context.Context) <-chan answer {
	ch := make(chan answer, 1)
	go func() {
		start := time.Now()
		key, err := notify.Ask(ctx, askTitle, askBody, confirm)
		ch <- answer{key, err, time.Since(start)}
	}()
	return ch
}

// patience bounds the waits of these tests: long enough for any loaded
// machine, it only turns a hang into a failure. No test asserts how fast
// anything ran.
const patience = 30 * time.Second

func await(t *testing.T, ch <-chan answer) answer {
	t.Helper()
	select {
	case a := <-ch:
		return a
	case <-time.After(patience):
		t.Fatalf("Ask did not return within %s", patience)
		return answer{}
	}
}

// expiring is a context with a deadline that ends when the test says,
// not when the clock does: Ask sees the deadline (for expire_timeout) and
// its end (DeadlineExceeded) in the order the test chooses.
type expiring struct {
	context.Context
	deadline time.Time
	done     chan struct{}
	once     sync.Once
}

func newExpiring(d time.Duration) *expiring {
	return &expiring{Context: context.Background(), deadline: time.Now().Add(d), done: make(chan struct{})}
}

func (e *expiring) Deadline() (time.Time, bool) { return e.deadline, true }
func (e *expiring) Done() <-chan struct{}       { return e.done }
func (e *expiring) expire()                     { e.once.Do(func() { close(e.done) }) }
func (e *expiring) Err() error {
	select {
	case <-e.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// leftMs is what is left until deadline in whole milliseconds, rounded
// down (lo) or up (hi).
func leftMs(deadline time.Time) (lo, hi int32) {
	d := time.Until(deadline)
	return int32(d / time.Millisecond), int32((d + time.Millisecond - 1) / time.Millisecond)
}

// checkExpireTimeout: the question's expire_timeout is what was left of
// deadline when it was sent, which is between what was left before asking
// (hiBefore) and once it was shown (loShown).
func checkExpireTimeout(t *testing.T, c notifytest.Call, loShown, hiBefore int32) {
	t.Helper()
	if c.Timeout < max(1, loShown) || c.Timeout > hiBefore {
		t.Fatalf("expire_timeout = %d ms; want what was left of the deadline when asked (%d..%d)", c.Timeout, loShown, hiBefore)
	}
}

// waitingForTheUser waits until Ask is parked in its own select, waiting
// for the user's answer or its context's end: runtime.Stack shows a
// goroutine in a select whose top frame is ask (in a D-Bus call the top
// frame is godbus's).
func waitingForTheUser(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(patience); ; time.Sleep(time.Millisecond) {
		buf := make([]byte, 1<<20)
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			head, frames, _ := strings.Cut(g, "\n")
			if strings.Contains(head, " [select") && strings.HasPrefix(frames, "github.com/torale-ai/torale-cred/internal/notify.ask(") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("Ask never waited for the user")
		}
	}
}

// shown waits for the question to reach the server and returns it.
func shown(t *testing.T, srv *notifytest.Server) notifytest.Call {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	calls, err := srv.WaitCalls(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	return calls[0]
}

// TestAskAllow: the server answers inside Notify, before Notify's reply,
// so Ask must be listening before it asks. Without a deadline the
// notification never expires; being resident, Ask closes it itself.
func TestAskAllow(t *testing.T) {
	notifytest.PrivateBus(t)
	srv := notifytest.Serve(t)
	srv.AutoAnswer("allow_once")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := await(t, askAsync(ctx))
	if a.err != nil || a.key != "allow_once" {
		t.Fatalf("Ask = %q, %v; want allow_once", a.key, a.err)
	}
	c := srv.Calls()[0]
	wantActions := []string{"allow_once", "Allow once", "allow_always", "Allow always", "deny", "Deny"}
	if c.AppName != "torale-cred" || c.Title != askTitle || c.Body != askBody || !slices.Equal(c.Actions, wantActions) || c.Timeout != 0 {
		t.Fatalf("Notify call = %+v", c)
	}
	if u, ok := c.Hints["urgency"].Value().(byte); !ok || u != 2 {
		t.Fatalf("urgency hint = %v; want critical (2)", c.Hints["urgency"])
	}
	if !c.Resident() {
		t.Fatalf("resident hint = %v", c.Hints["resident"])
	}
	if got := srv.CloseCalls(); !slices.Equal(got, []uint32{c.ID}) || srv.Open(c.ID) {
		t.Fatalf("CloseNotification calls = %v, open %v; want [%d], closed", got, srv.Open(c.ID), c.ID)
	}
}

// TestAskDeny: the user clicks Deny a moment after the question shows;
// the notification expires with ctx's deadline.
func TestAskDeny(t *testing.T) {
	notifytest.PrivateBus(t)
	srv := notifytest.Serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	deadline, _ := ctx.Deadline()
	_, hi := leftMs(deadline)
	ch := askAsync(ctx)
	c := shown(t, srv)
	lo, _ := leftMs(deadline)
	checkExpireTimeout(t, c, lo, hi)
	if err := srv.Invoke(c.ID, "deny"); err != nil {
		t.Fatal(err)
	}
	if a := await(t, ch); a.err != nil || a.key != "deny" {
		t.Fatalf("Ask = %q, %v; want deny", a.key, a.err)
	}
}

// TestAskTimeout: nobody answers; when ctx's deadline passes (here: when
// the test says it has) the question is taken off the screen and the
// answer is no answer.
func TestAskTimeout(t *testing.T) {
	notifytest.PrivateBus(t)
	srv := notifytest.Serve(t)
	ctx := newExpiring(patience)
	defer ctx.expire()
	_, hi := leftMs(ctx.deadline)
	ch := askAsync(ctx)
	c := shown(t, srv)
	lo, _ := leftMs(ctx.deadline)
	checkExpireTimeout(t, c, lo, hi)
	// Past its deadline before Notify's reply reached Ask, the question
	// would stay on screen until its expire_timeout: this test is about
	// a deadline that passes while Ask waits for the user.
	waitingForTheUser(t)
	select {
	case a := <-ch:
		t.Fatalf("Ask = %q, %v before its deadline, with nobody answering", a.key, a.err)
	default:
	}
	ctx.expire()
	a := await(t, ch)
	if !errors.Is(a.err, notify.ErrNoAnswer) || !errors.Is(a.err, context.DeadlineExceeded) || a.key != "" {
		t.Fatalf("Ask = %q, %v; want ErrNoAnswer (deadline)", a.key, a.err)
	}
	if got := srv.CloseCalls(); !slices.Equal(got, []uint32{c.ID}) || srv.Open(c.ID) {
		t.Fatalf("CloseNotification calls = %v; want [%d]", got, c.ID)
	}
}

// TestAskClosed: the user closes the notification without a pick.
func TestAskClosed(t *testing.T) {
	notifytest.PrivateBus(t)
	srv := notifytest.Serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	ch := askAsync(ctx)
	c := shown(t, srv)
	if err := srv.Dismiss(c.ID); err != nil {
		t.Fatal(err)
	}
	a := await(t, ch)
	if !errors.Is(a.err, notify.ErrNoAnswer) || a.key != "" {
		t.Fatalf("Ask = %q, %v; want ErrNoAnswer", a.key, a.err)
	}
}

// TestAskUnknownKey: a key that is none of the choices, such as "default"
// (a click on the body), is no answer; the notification is still closed.
func TestAskUnknownKey(t *testing.T) {
	notifytest.PrivateBus(t)
	srv := notifytest.Serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	ch := askAsync(ctx)
	c := shown(t, srv)
	if err := srv.Invoke(c.ID, "default"); err != nil {
		t.Fatal(err)
	}
	if a := await(t, ch); !errors.Is(a.err, notify.ErrNoAnswer) || a.key != "" {
		t.Fatalf("Ask = %q, %v; want ErrNoAnswer", a.key, a.err)
	}
	if got := srv.CloseCalls(); !slices.Equal(got, []uint32{c.ID}) {
		t.Fatalf("CloseNotification calls = %v; want [%d]", got, c.ID)
	}
}

// TestAskIgnoresOtherIDs: an answer to somebody else's notification, and
// its closing, are not this question's answer.
func TestAskIgnoresOtherIDs(t *testing.T) {
	notifytest.PrivateBus(t)
	srv := notifytest.Serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	ch := askAsync(ctx)
	c := shown(t, srv)
	// Not resident, so the server also emits NotificationClosed(other).
	if err := srv.Invoke(c.ID+100, "allow_always"); err != nil {
		t.Fatal(err)
	}
	if err := srv.Invoke(c.ID, "deny"); err != nil {
		t.Fatal(err)
	}
	if a := await(t, ch); a.err != nil || a.key != "deny" {
		t.Fatalf("Ask = %q, %v; want deny (the other id ignored)", a.key, a.err)
	}
}

// TestAskIgnoresOtherSenders: another program on the bus forges an Allow,
// both straight to Ask's connection (past any match rule) and broadcast;
// only the notification server's own signals count.
func TestAskIgnoresOtherSenders(t *testing.T) {
	notifytest.PrivateBus(t)
	srv := notifytest.Serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	ch := askAsync(ctx)
	c := shown(t, srv)

	forger, err := dbus.SessionBusPrivateNoAutoStartup()
	if err != nil {
		t.Fatal(err)
	}
	defer forger.Close()
	if err := forger.Auth(nil); err != nil {
		t.Fatal(err)
	}
	if err := forger.Hello(); err != nil {
		t.Fatal(err)
	}
	const iface = "org.freedesktop.Notifications"
	const path = dbus.ObjectPath("/org/freedesktop/Notifications")
	for _, dest := range []string{c.Sender, ""} {
		msg := &dbus.Message{Type: dbus.TypeSignal, Headers: map[dbus.HeaderField]dbus.Variant{
			dbus.FieldPath:      dbus.MakeVariant(path),
			dbus.FieldInterface: dbus.MakeVariant(iface),
			dbus.FieldMember:    dbus.MakeVariant("ActionInvoked"),
			dbus.FieldSignature: dbus.MakeVariant(dbus.SignatureOf(c.ID, "allow_always")),
		}, Body: []any{c.ID, "allow_always"}}
		if dest != "" {
			msg.Headers[dbus.FieldDestination] = dbus.MakeVariant(dest)
		}
		if err := forger.Send(msg, nil).Err; err != nil {
			t.Fatal(err)
		}
	}
	// A round trip: the bus has routed the forgeries before the real answer.
	var busID string
	if err := forger.BusObject().Call("org.freedesktop.DBus.GetId", 0).Store(&busID); err != nil {
		t.Fatal(err)
	}
	if err := srv.Invoke(c.ID, "deny"); err != nil {
		t.Fatal(err)
	}
	if a := await(t, ch); a.err != nil || a.key != "deny" {
		t.Fatalf("Ask = %q, %v; want deny (the forged allow ignored)", a.key, a.err)
	}
}

// TestAskWithoutActionsIsNoDesktop: a server that shows no buttons cannot
// ask, and is not sent the question.
func TestAskWithoutActionsIsNoDesktop(t *testing.T) {
	notifytest.PrivateBus(t)
	srv := notifytest.Serve(t)
	srv.SetCapabilities("body")
	_, err := notify.Ask(context.Background(), askTitle, askBody, confirm)
	if !errors.Is(err, notify.ErrNoDesktop) {
		t.Fatalf("Ask = %v; want ErrNoDesktop", err)
	}
	if n := len(srv.Calls()); n != 0 {
		t.Fatalf("%d Notify calls to a server without actions", n)
	}
}

func TestAskNoSessionBusIsNoDesktop(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+t.TempDir()+"/none")
	_, err := notify.Ask(context.Background(), askTitle, askBody, confirm)
	if !errors.Is(err, notify.ErrNoDesktop) {
		t.Fatalf("Ask = %v; want ErrNoDesktop", err)
	}
}

// Without a notification server Ask answers at once: with a context that
// never ends, waiting for anything would be a hang (await fails on it).
func TestAskNoNotificationServerIsNoDesktop(t *testing.T) {
	notifytest.PrivateBus(t)
	if a := await(t, askAsync(context.Background())); !errors.Is(a.err, notify.ErrNoDesktop) {
		t.Fatalf("Ask = %v; want ErrNoDesktop", a.err)
	}
}

// TestAskHungBus: a bus that accepts and never speaks must not hold Ask
// past its context.
func TestAskHungBus(t *testing.T) {
	sock := t.TempDir() + "/bus"
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, silent, until the test ends
		}
	}()
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+sock)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	// await fails an Ask that outlives its context by the patience.
	if a := await(t, askAsync(ctx)); !errors.Is(a.err, notify.ErrNoAnswer) {
		t.Fatalf("Ask = %v after %v; want ErrNoAnswer once its context ended", a.err, a.d)
	}
}
