package daemon

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/internal/audit"
	"github.com/torale-ai/torale-cred/internal/peer"
)

// The first-use notice names a program by the path it chose for itself:
// the desktop gets it escaped.
func TestFirstUseNoticeEscapesTheProgram(t *testing.T) {
	t.Parallel()
	bodies := make(chan string, 1)
	d := &Daemon{log: slog.New(slog.NewTextHandler(io.Discard, nil)), cfg: Config{
		Notify: func(_ context.Context, _, body string) error { bodies <- body; return nil },
	}}
	c := &peer.Caller{PID: 9, Exe: "/tmp/a\r\x1b[2K<b>/usr/bin/git</b>\u202e"}
	d.firstUse(audit.Event{Time: time.Now(), Profile: "default", KeyHint: "sk_...12345", Door: "socket", Result: audit.ResultOK, Caller: c})
	select {
	case body := <-bodies:
		if strings.ContainsAny(body, "\r\x1b\u202e") || !strings.Contains(body, `/tmp/a\r\x1b[2K`) {
			t.Fatalf("notice body = %q", body)
		}
	case <-time.After(patience):
		t.Fatal("no notice")
	}
}
