//go:build linux

// Package notifytest serves a fake org.freedesktop.Notifications on the
// session bus so tests can observe the Notify calls a real desktop would
// show, and answer the questions notify.Ask puts. It is test scaffolding: it must never run outside a test's own
// private bus (.ci/with-keyring), where it could hide real notifications.
package notifytest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"
)

// Call is one Notify received.
type Call struct {
	ID      uint32 // the id Notify returned
	Sender  string // the caller's unique bus name
	AppName string
	Icon    string
	Title   string
	Body    string
	Actions []string // key, label, key, label, ...
	Hints   map[string]dbus.Variant
	Timeout int32
}

// Resident reports the "resident" hint: the notification stays after an
// action until its sender closes it.
func (c Call) Resident() bool {
	r, ok := c.Hints["resident"].Value().(bool)
	return ok && r
}

// Offers reports whether the call offered the action key.
func (c Call) Offers(key string) bool {
	for i := 0; i+1 < len(c.Actions); i += 2 {
		if c.Actions[i] == key {
			return true
		}
	}
	return false
}

// NotificationClosed reasons, as the spec numbers them.
const (
	ReasonExpired   uint32 = 1
	ReasonDismissed uint32 = 2
	ReasonClosed    uint32 = 3 // by CloseNotification
)

const (
	name = "org.freedesktop.Notifications"
	path = dbus.ObjectPath("/org/freedesktop/Notifications")
)

// Server is the fake notification daemon. It advertises the "actions"
// capability unless SetCapabilities says otherwise, so questions asked
// through it are answered by the test: Invoke, Dismiss or AutoAnswer.
type Server struct {
	conn   *dbus.Conn
	mu     sync.Mutex
	calls  []Call
	open   map[uint32]bool // ids shown and not yet closed
	closes []uint32        // ids passed to CloseNotification, in order
	caps   []string
	answer string // AutoAnswer's key; "" answers nothing
	notify chan struct{}
}

// Serve claims org.freedesktop.Notifications on the session bus for the
// test's lifetime. It fails the test when the name is already owned: a
// real notification server means this is not a private test bus.
func Serve(t testing.TB) *Server {
	t.Helper()
	conn, err := dbus.SessionBusPrivateNoAutoStartup()
	if err != nil {
		t.Fatalf("notifytest: no session bus: %v", err)
	}
	if err := conn.Auth(nil); err != nil {
		conn.Close()
		t.Fatalf("notifytest: auth: %v", err)
	}
	if err := conn.Hello(); err != nil {
		conn.Close()
		t.Fatalf("notifytest: hello: %v", err)
	}
	s := &Server{conn: conn, open: map[uint32]bool{}, caps: []string{"actions", "body"}, notify: make(chan struct{}, 64)}
	if err := conn.Export(s, path, name); err != nil {
		conn.Close()
		t.Fatalf("notifytest: export: %v", err)
	}
	reply, err := conn.RequestName(name, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		conn.Close()
		t.Fatalf("notifytest: cannot own org.freedesktop.Notifications (reply %v, %v): is a real notification server running on this bus?", reply, err)
	}
	t.Cleanup(func() {
		_, _ = conn.ReleaseName(name)
		conn.Close()
	})
	return s
}

// Notify implements the D-Bus method (signature susssasa{sv}i → u). With
// AutoAnswer set, it emits ActionInvoked before its reply goes out: the
// hardest order for a client, which must be listening before it calls.
func (s *Server) Notify(sender dbus.Sender, app string, replaces uint32, icon, summary, body string, actions []string,
	hints map[string]dbus.Variant, timeout int32) (uint32, *dbus.Error) {
	s.mu.Lock()
	id := uint32(len(s.calls) + 1)
	c := Call{ID: id, Sender: string(sender), AppName: app, Icon: icon, Title: summary, Body: body,
		Actions: actions, Hints: hints, Timeout: timeout}
	s.calls = append(s.calls, c)
	s.open[id] = true
	answer := s.answer
	s.mu.Unlock()
	if answer != "" && c.Offers(answer) {
		_ = s.invoke(c, answer)
	}
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return id, nil
}

// CloseNotification implements the D-Bus method: the notification goes,
// with NotificationClosed(id, ReasonClosed), if it was still shown.
func (s *Server) CloseNotification(id uint32) *dbus.Error {
	s.mu.Lock()
	s.closes = append(s.closes, id)
	wasOpen := s.open[id]
	delete(s.open, id)
	s.mu.Unlock()
	if wasOpen {
		if err := s.conn.Emit(path, name+".NotificationClosed", id, ReasonClosed); err != nil {
			return dbus.MakeFailedError(err)
		}
	}
	return nil
}

// GetServerInformation is what clients ask a notification server first.
func (s *Server) GetServerInformation() (string, string, string, string, *dbus.Error) {
	return "notifytest", "torale-cred", "0", "1.2", nil
}

// GetCapabilities lists what the fake shows.
func (s *Server) GetCapabilities() ([]string, *dbus.Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.caps...), nil
}

// SetCapabilities replaces what GetCapabilities answers, ["actions",
// "body"] by default; without "actions" the server plays one that shows
// no buttons.
func (s *Server) SetCapabilities(caps ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.caps = append([]string(nil), caps...)
}

// AutoAnswer makes every later Notify that offers the action key answer
// itself with it, as a user clicking at once would (see Invoke); "" turns
// it off. Notifications without that action are left alone.
func (s *Server) AutoAnswer(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answer = key
}

// Invoke is the user clicking the action key on notification id: it emits
// ActionInvoked(id, key) from the server's connection, then, unless the
// notification is resident, NotificationClosed(id, ReasonDismissed) as
// servers do. It does not check that id was shown or offered key, so a
// test can send what a confused or hostile server would.
func (s *Server) Invoke(id uint32, key string) error {
	c := Call{ID: id}
	s.mu.Lock()
	if id >= 1 && int(id) <= len(s.calls) {
		c = s.calls[id-1]
	}
	s.mu.Unlock()
	return s.invoke(c, key)
}

func (s *Server) invoke(c Call, key string) error {
	if err := s.conn.Emit(path, name+".ActionInvoked", c.ID, key); err != nil {
		return fmt.Errorf("notifytest: ActionInvoked: %w", err)
	}
	if c.Resident() {
		return nil
	}
	return s.closed(c.ID, ReasonDismissed)
}

// Dismiss is the user closing notification id without a pick: it emits
// NotificationClosed(id, ReasonDismissed).
func (s *Server) Dismiss(id uint32) error { return s.closed(id, ReasonDismissed) }

func (s *Server) closed(id, reason uint32) error {
	s.mu.Lock()
	delete(s.open, id)
	s.mu.Unlock()
	if err := s.conn.Emit(path, name+".NotificationClosed", id, reason); err != nil {
		return fmt.Errorf("notifytest: NotificationClosed: %w", err)
	}
	return nil
}

// Calls returns the Notify calls received so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// CloseCalls returns the ids passed to CloseNotification so far, in order.
func (s *Server) CloseCalls() []uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]uint32(nil), s.closes...)
}

// Open reports whether notification id is shown: notified and not yet
// closed, dismissed or invoked (unless resident).
func (s *Server) Open(id uint32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open[id]
}

// WaitCalls waits until n calls have arrived or ctx ends.
func (s *Server) WaitCalls(ctx context.Context, n int) ([]Call, error) {
	for {
		if c := s.Calls(); len(c) >= n {
			return c, nil
		}
		select {
		case <-s.notify:
		case <-ctx.Done():
			return s.Calls(), fmt.Errorf("notifytest: %d of %d Notify calls before %w", len(s.Calls()), n, ctx.Err())
		}
	}
}
