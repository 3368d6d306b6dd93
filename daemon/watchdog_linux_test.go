package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// notifyRecorder is a NOTIFY_SOCKET as systemd provides (set for the
// test): a datagram socket collecting what the daemon sends, in order.
type notifyRecorder struct {
	conn  *net.UnixConn
	path  string
	marks int
}

func recordNotify(t *testing.T) *notifyRecorder {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return &notifyRecorder{conn: c, path: path}
}

// next is the next datagram; the deadline only turns a hang into a failure.
func (n *notifyRecorder) next(t *testing.T) string {
	t.Helper()
	buf := make([]byte, 4096)
	_ = n.conn.SetReadDeadline(time.Now().Add(patience))
	k, err := n.conn.Read(buf)
	if err != nil {
		t.Fatalf("NOTIFY_SOCKET: %v", err)
	}
	return string(buf[:k])
}

// wait reads until a datagram containing want.
func (n *notifyRecorder) wait(t *testing.T, want string) {
	t.Helper()
	for !strings.Contains(n.next(t), want) {
	}
}

// sentSoFar is every datagram sent before it was called: it sends a marker
// of its own and reads up to it (one socket's queue keeps the order).
func (n *notifyRecorder) sentSoFar(t *testing.T) []string {
	t.Helper()
	n.marks++
	mark := fmt.Sprintf("TEST_MARK=%d", n.marks)
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: n.path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(mark)); err != nil {
		t.Fatal(err)
	}
	var got []string
	for m := n.next(t); m != mark; m = n.next(t) {
		got = append(got, m)
	}
	return got
}

// handTicker replaces the watchdog's ticker: it records the period asked
// for, and the test ticks. A tick is taken when the watchdog waits for it,
// so once send returns the round before it has finished.
type handTicker struct {
	periods chan time.Duration
	c       chan time.Time
}

func tickByHand(t *testing.T) *handTicker {
	h := &handTicker{periods: make(chan time.Duration, 4), c: make(chan time.Time)}
	orig := newWatchdogTicker
	newWatchdogTicker = func(d time.Duration) (<-chan time.Time, func()) {
		h.periods <- d
		return h.c, func() {}
	}
	t.Cleanup(func() { newWatchdogTicker = orig })
	return h
}

func (h *handTicker) period(t *testing.T) time.Duration {
	t.Helper()
	select {
	case d := <-h.periods:
		return d
	case <-time.After(patience):
		t.Fatal("the watchdog never started its ticker")
		return 0
	}
}

func (h *handTicker) tick(t *testing.T) {
	t.Helper()
	select {
	case h.c <- time.Now():
	case <-time.After(patience):
		t.Fatal("the watchdog never waited for its next tick")
	}
}

func countWatchdog(msgs []string) int {
	n := 0
	for _, m := range msgs {
		if strings.Contains(m, "WATCHDOG=1") {
			n++
		}
	}
	return n
}

// Under systemd's watchdog (WATCHDOG_USEC) the daemon pings at half the
// interval: once at the start, then once per tick of a ticker of that
// period. The ticks are the test's, so nothing here depends on how fast
// the machine runs; the 30 s interval leaves the self-check (a quarter of
// it) all the time a loaded machine needs.
func TestWatchdogPingsAtHalfTheInterval(t *testing.T) {
	n := recordNotify(t)
	tk := tickByHand(t)
	t.Setenv("WATCHDOG_USEC", "30000000")
	t.Setenv("WATCHDOG_PID", "")
	startInProcess(t, `{}`)
	if got := tk.period(t); got != 15*time.Second {
		t.Fatalf("watchdog ticker period %s, want 15s (half of WATCHDOG_USEC=30s)", got)
	}
	// A ping follows each self-check: the first before any tick (before
	// or after READY=1), then one per tick. Once tick i is taken, rounds
	// 0..i-1 are over and round i may be too.
	var sent []string
	for i := 1; i <= 3; i++ {
		tk.tick(t)
		sent = append(sent, n.sentSoFar(t)...)
		if got := countWatchdog(sent); got < i || got > i+1 {
			t.Fatalf("%d WATCHDOG=1 after %d ticks, want one per round (%d or %d): %q", got, i, i, i+1, sent)
		}
	}
	if !strings.Contains(strings.Join(sent, "\n"), "READY=1") {
		n.wait(t, "READY=1")
	}
}

// The interval comes from WATCHDOG_USEC as systemd sets it: none without
// it, none for another process's WATCHDOG_PID, none (with a warning) when
// it is malformed.
func TestWatchdogInterval(t *testing.T) {
	for _, c := range []struct {
		usec, pid string
		want      time.Duration
		warn      bool
	}{
		{"", "", 0, false},
		{"30000000", "", 30 * time.Second, false},
		{"400000", "", 400 * time.Millisecond, false},
		{"30000000", "1", 0, false},
		{"soon", "", 0, true},
	} {
		t.Setenv("WATCHDOG_USEC", c.usec)
		t.Setenv("WATCHDOG_PID", c.pid)
		log := &lockedBuffer{}
		got := watchdogInterval(slog.New(slog.NewTextHandler(log, nil)))
		if warned := strings.Contains(log.String(), "malformed WATCHDOG_USEC"); got != c.want || warned != c.warn {
			t.Errorf("WATCHDOG_USEC=%q WATCHDOG_PID=%q: %s (warned %v), want %s (warned %v)", c.usec, c.pid, got, warned, c.want, c.warn)
		}
	}
}

// A socket that does not answer (a wedged server) stops the pings: each
// round's self-check times out, is logged, and sends nothing, so systemd
// restarts the daemon.
func TestWatchdogSilentWhenTheSocketDoesNotAnswer(t *testing.T) {
	n := recordNotify(t)
	tk := tickByHand(t)
	sock := filepath.Join(t.TempDir(), "wedged.sock")
	l, err := net.Listen("unix", sock) // listens, never accepts: nothing answers
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	log := &lockedBuffer{}
	d := &Daemon{log: slog.New(slog.NewTextHandler(log, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.watchdog(ctx, sock, 40*time.Millisecond) }()
	tk.period(t)
	tk.tick(t)
	tk.tick(t) // two rounds over
	cancel()
	select {
	case <-done:
	case <-time.After(patience):
		t.Fatal("the watchdog did not stop with its context")
	}
	if got := n.sentSoFar(t); countWatchdog(got) != 0 {
		t.Fatalf("pinged the watchdog while the socket did not answer: %q", got)
	}
	if k := strings.Count(log.String(), "self-check failed"); k < 2 {
		t.Fatalf("%d self-check failures logged for two rounds:\n%s", k, log)
	}
}
