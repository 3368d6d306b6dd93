//go:build linux

package notify_test

import (
	"context"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/internal/notify"
	"github.com/torale-ai/torale-cred/internal/notify/notifytest"
)

// A program names itself: what reaches the notification server holds no
// control or bidi character, and no markup on a server that reads markup.
func TestNotificationTextIsEscaped(t *testing.T) {
	const (
		title = "new program \x1b]0;x\a"
		body  = "/tmp/a\r\x1b[2K<a href=\"https://evil\">/usr/bin/git</a>\u202e & co\nline two"
	)
	cases := []struct {
		name      string
		caps      []string
		wantTitle string
		wantBody  string
	}{
		{"plain server", []string{"actions", "body"}, `new program \x1b]0;x\a`,
			"/tmp/a\\r\\x1b[2K<a href=\"https://evil\">/usr/bin/git</a>\\u202e & co\nline two"},
		{"markup server", []string{"actions", "body", "body-markup"}, `new program \x1b]0;x\a`,
			"/tmp/a\\r\\x1b[2K&lt;a href=\"https://evil\"&gt;/usr/bin/git&lt;/a&gt;\\u202e &amp; co\nline two"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			notifytest.PrivateBus(t)
			srv := notifytest.Serve(t)
			srv.SetCapabilities(tc.caps...)
			srv.AutoAnswer("deny")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if ok, err := notify.Send(ctx, title, body); !ok || err != nil {
				t.Fatalf("Send = %v, %v", ok, err)
			}
			if key, err := notify.Ask(ctx, title, body, confirm); key != "deny" || err != nil {
				t.Fatalf("Ask = %q, %v", key, err)
			}
			calls := srv.Calls()
			if len(calls) != 2 {
				t.Fatalf("%d calls, want 2", len(calls))
			}
			for _, c := range calls {
				if c.Title != tc.wantTitle || c.Body != tc.wantBody {
					t.Errorf("server got title %q body %q,\nwant %q body %q", c.Title, c.Body, tc.wantTitle, tc.wantBody)
				}
			}
		})
	}
}
