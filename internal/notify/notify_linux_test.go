//go:build linux

package notify_test

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/internal/notify"
	"github.com/torale-ai/torale-cred/internal/notify/notifytest"
)

func TestNoSessionBusIsNotAnError(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+t.TempDir()+"/none")
	ok, err := notify.Send(context.Background(), "t", "b")
	if ok || err != nil {
		t.Fatalf("Send = %v, %v; want false, nil", ok, err)
	}
}

// Without a notification server Send answers at once: with a context
// that never ends, waiting for anything would be a hang.
func TestNoNotificationServerIsNotAnError(t *testing.T) {
	notifytest.PrivateBus(t)
	type sent struct {
		ok  bool
		err error
	}
	ch := make(chan sent, 1)
	go func() { ok, err := notify.Send(context.Background(), "t", "b"); ch <- sent{ok, err} }()
	select {
	case s := <-ch:
		if s.ok || s.err != nil {
			t.Fatalf("Send = %v, %v; want false, nil", s.ok, s.err)
		}
	case <-time.After(patience):
		t.Fatal("Send waited without a server")
	}
}

// TestNotifyOnRealBus sends through a real dbus-daemon to a fake
// notification server, and watches the wire with dbus-monitor as well.
func TestNotifyOnRealBus(t *testing.T) {
	addr := notifytest.PrivateBus(t)
	srv := notifytest.Serve(t)

	var mon *exec.Cmd
	var monOut syncBuffer
	if bin, err := exec.LookPath("dbus-monitor"); err == nil {
		mon = exec.Command(bin, "--address", addr, "interface='org.freedesktop.Notifications'")
		mon.Stdout = &monOut
		if err := mon.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = mon.Process.Kill(); _ = mon.Wait() })
		// dbus-monitor prints its own NameAcquired signals once attached.
		waitFor(t, func() bool {
			return strings.Contains(monOut.String(), "NameAcquired") || strings.Contains(monOut.String(), "NameLost")
		})
	}

	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	ok, err := notify.Send(ctx, "Torale API key rotation due", `Key sk_...xyz89 for profile "default" is 91 days old`)
	if err != nil || !ok {
		t.Fatalf("Send = %v, %v; want true, nil", ok, err)
	}
	calls, err := srv.WaitCalls(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	c := calls[0]
	if c.AppName != "torale-cred" || c.Title != "Torale API key rotation due" || !strings.Contains(c.Body, "sk_...xyz89") || c.Timeout != -1 {
		t.Fatalf("Notify call = %+v", c)
	}
	if u, ok := c.Hints["urgency"].Value().(byte); !ok || u != 1 {
		t.Fatalf("urgency hint = %v", c.Hints["urgency"])
	}
	if mon != nil {
		// dbus-monitor writes a call's header and arguments in pieces.
		waitFor(t, func() bool {
			o := monOut.String()
			return strings.Contains(o, "member=Notify") && strings.Contains(o, `string "Torale API key rotation due"`)
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not seen on the bus within %s", patience)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
