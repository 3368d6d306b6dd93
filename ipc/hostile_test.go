package ipc_test

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/ipc"
)

// TestSlowAndHostileClients: a client that never writes, writes half a
// header or half a body, speaks garbage, or floods connections cannot keep
// the server from answering others, and is cut off within the timeouts.
func TestSlowAndHostileClients(t *testing.T) {
	sock, srv := serve(t, newFake(nil), ipc.Options{ReadHeaderTimeout: 300 * time.Millisecond, ReadTimeout: 500 * time.Millisecond, MaxConns: 8})
	hc := httpClient(sock)

	// Connects and never writes: closed after the header timeout, and the
	// server answers others meanwhile.
	silent, _ := rawConn(t, sock)
	// Half a request: headers promise a body that never comes.
	half, halfR := rawConn(t, sock)
	if _, err := half.Write([]byte("POST /v1/resolve HTTP/1.1\r\nHost: torale\r\nContent-Length: 100\r\n\r\n{\"pro")); err != nil {
		t.Fatal(err)
	}
	// Half a header line.
	halfHdr, _ := rawConn(t, sock)
	if _, err := halfHdr.Write([]byte("POST /v1/resolve HTTP/1.1\r\nHost: tor")); err != nil {
		t.Fatal(err)
	}
	if r := call(t, hc, "GET", "/v1/health", ""); r.status != 200 {
		t.Fatalf("health while slow clients wait: %d", r.status)
	}
	for name, c := range map[string]net.Conn{"silent": silent, "half header": halfHdr} {
		if d := closedWithin(t, c, 3*time.Second); d > 2*time.Second {
			t.Errorf("%s client kept for %s", name, d)
		}
	}
	_ = half.SetReadDeadline(time.Now().Add(3 * time.Second))
	if resp, err := http.ReadResponse(halfR, nil); err == nil {
		if resp.StatusCode != 400 {
			t.Errorf("half body: status %d", resp.StatusCode)
		}
		resp.Body.Close()
	}
	closedWithin(t, half, 3*time.Second)

	// Garbage instead of HTTP: net/http's own 400, then closed.
	g, gr := rawConn(t, sock)
	if _, err := g.Write([]byte("\x16\x03\x01\x02\x00garbage\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = g.SetReadDeadline(time.Now().Add(3 * time.Second))
	line, _ := gr.ReadString('\n')
	if !strings.HasPrefix(line, "HTTP/1.1 400") {
		t.Errorf("garbage got %q", line)
	}
	closedWithin(t, g, 3*time.Second)

	// The connection cap: past it, a new connection is closed at once.
	var held []net.Conn
	for range 8 {
		c, _ := rawConn(t, sock)
		held = append(held, c)
	}
	deadline := time.Now().Add(2 * time.Second)
	for srv.Conns() < 8 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	extra, _ := rawConn(t, sock)
	if d := closedWithin(t, extra, time.Second); d > 500*time.Millisecond {
		t.Errorf("connection past the cap kept for %s", d)
	}
	for _, c := range held {
		c.Close()
	}
	deadline = time.Now().Add(2 * time.Second)
	for srv.Conns() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if r := call(t, httpClient(sock), "GET", "/v1/health", ""); r.status != 200 {
		t.Fatalf("health after the flood: %d", r.status)
	}
	debugf(t, "conns=%d", srv.Conns())
}
