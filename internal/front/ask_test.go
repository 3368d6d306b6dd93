//go:build !windows

package front

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/internal/wire"
)

// The front's request is what net/http's server reads as one POST with its
// body and door, and it asks to close: the front sends one request per
// connection, and a request that did not say so would keep the daemon
// waiting for another (and waking again on the front's exit).
func TestAskFramesOneClosingRequest(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan *http.Request, 1)
	body := make(chan []byte, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			close(got)
			return
		}
		b, _ := io.ReadAll(r.Body)
		got <- r
		body <- b
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
	}()
	c, out := dial(sock, 5*time.Second)
	if out != answered {
		t.Fatalf("dial: outcome %v", out)
	}
	defer c.Close()
	a, out := ask(c, "/v1/resolve", "token", []byte(`{"profile":"default"}`), 5*time.Second)
	if out != answered || a.status != 200 || string(a.body) != "{}" {
		t.Fatalf("ask: outcome %v, status %d, body %q", out, a.status, a.body)
	}
	r := <-got
	if r == nil {
		t.Fatal("net/http could not read the front's request")
	}
	if r.Method != "POST" || r.URL.Path != "/v1/resolve" || r.Header.Get(wire.DoorHeader) != "token" || string(<-body) != `{"profile":"default"}` {
		t.Errorf("request %s %s door %q", r.Method, r.URL.Path, r.Header.Get(wire.DoorHeader))
	}
	if !r.Close {
		t.Error("the request does not ask to close the connection (Connection: close)")
	}
}
