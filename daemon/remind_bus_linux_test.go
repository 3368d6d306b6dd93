//go:build linux

package daemon

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/internal/notify"
	"github.com/torale-ai/torale-cred/internal/notify/notifytest"
)

// TestReminderNotifiesOnRealBus runs the reminder loop against a real
// dbus-daemon and a fake notification server on it, as a desktop would
// receive it; state.json remembers the reminder for the next start. Not
// parallel: notifytest.PrivateBus sets DBUS_SESSION_BUS_ADDRESS.
func TestReminderNotifiesOnRealBus(t *testing.T) {
	notifytest.PrivateBus(t)
	srv := notifytest.Serve(t)
	f := newFixture(t, t0.Add(-91*day))
	f.r.Notify = notify.Notify
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	f.r.After = func(time.Duration) <-chan time.Time { return nil } // one pass, then wait for cancel
	done := make(chan error, 1)
	go func() { done <- f.r.Run(ctx) }()
	calls, err := srv.WaitCalls(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c := calls[0]
	if c.AppName != "torale-cred" || c.Title != "Rotate your Torale API key" ||
		!strings.Contains(c.Body, `sk_...pqRST (profile "default") is 91 days old`) ||
		!strings.Contains(c.Body, "torale-cred rotate --profile default") || strings.Contains(c.Body, testKey) {
		t.Fatalf("Notify call = %+v", c)
	}
	if p := f.profile(t); p.LastRemindedAt == nil || !p.LastRemindedAt.Equal(t0) {
		t.Fatalf("last_reminded_at = %v", p.LastRemindedAt)
	}
	// Restarted an hour later: nothing new on the bus.
	f.clock.Add(time.Hour)
	r := f.reminder()
	r.Notify = notify.Notify
	r.Check(context.Background())
	time.Sleep(100 * time.Millisecond)
	if n := len(srv.Calls()); n != 1 {
		t.Fatalf("%d Notify calls after a restart, want 1", n)
	}
}
