//go:build linux

// Package notifytest serves a fake org.freedesktop.Notifications on the
// session bus so tests can observe the Notify calls a real desktop would
// show. It is test scaffolding: it must never run outside a test's own
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
	AppName string
	Icon    string
	Title   string
	Body    string
	Hints   map[string]dbus.Variant
	Timeout int32
}

// Server is the fake notification daemon.
type Server struct {
	conn   *dbus.Conn
	mu     sync.Mutex
	calls  []Call
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
	s := &Server{conn: conn, notify: make(chan struct{}, 64)}
	if err := conn.Export(s, "/org/freedesktop/Notifications", "org.freedesktop.Notifications"); err != nil {
		conn.Close()
		t.Fatalf("notifytest: export: %v", err)
	}
	reply, err := conn.RequestName("org.freedesktop.Notifications", dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		conn.Close()
		t.Fatalf("notifytest: cannot own org.freedesktop.Notifications (reply %v, %v): is a real notification server running on this bus?", reply, err)
	}
	t.Cleanup(func() {
		_, _ = conn.ReleaseName("org.freedesktop.Notifications")
		conn.Close()
	})
	return s
}

// Notify implements the D-Bus method (signature susssasa{sv}i → u).
func (s *Server) Notify(app string, replaces uint32, icon, summary, body string, actions []string,
	hints map[string]dbus.Variant, timeout int32) (uint32, *dbus.Error) {
	s.mu.Lock()
	s.calls = append(s.calls, Call{AppName: app, Icon: icon, Title: summary, Body: body, Hints: hints, Timeout: timeout})
	id := uint32(len(s.calls))
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return id, nil
}

// GetServerInformation is what clients ask a notification server first.
func (s *Server) GetServerInformation() (string, string, string, string, *dbus.Error) {
	return "notifytest", "torale-cred", "0", "1.2", nil
}

// GetCapabilities lists what the fake shows.
func (s *Server) GetCapabilities() ([]string, *dbus.Error) { return []string{"body"}, nil }

// Calls returns the Notify calls received so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
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
