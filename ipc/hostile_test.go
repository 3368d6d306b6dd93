package ipc_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/ipc"
)

// TestSlowAndHostileClients: a client that never writes, writes half a
// header or half a body, sends an endless body, or speaks garbage cannot
// keep the server from answering others, and is cut off within the
// timeouts: the header timeout before the request is read, the read
// timeout after.
func TestSlowAndHostileClients(t *testing.T) {
	const header, read = 200 * time.Millisecond, 1500 * time.Millisecond
	fb := newFake(map[string]string{"default": testKey})
	sock, _ := serve(t, fb, ipc.Options{ReadHeaderTimeout: header, ReadTimeout: read})
	hc := httpClient(sock)

	// Connects and never writes.
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
	// Cut off by the header timeout, long before the read timeout.
	for name, c := range map[string]net.Conn{"silent": silent, "half header": halfHdr} {
		if d := closedWithin(t, c, 3*time.Second); d > read-300*time.Millisecond {
			t.Errorf("%s client kept for %s; the header timeout is %s", name, d, header)
		}
	}
	_ = half.SetReadDeadline(time.Now().Add(read + 3*time.Second))
	if resp, err := http.ReadResponse(halfR, nil); err == nil {
		if resp.StatusCode != 400 {
			t.Errorf("half body: status %d", resp.StatusCode)
		}
		resp.Body.Close()
	}
	closedWithin(t, half, read+3*time.Second)
	if n := fb.callCount(); n != 1 {
		t.Errorf("half requests reached the backend: %d calls, want the one health", n)
	}

	// A body past the limit with no Content-Length (chunked): read up to
	// the limit, then 413.
	endless := io.MultiReader(strings.NewReader(`{"env":{"X":"`), strings.NewReader(strings.Repeat("a", 2*ipc.MaxBodyBytes)))
	req, _ := http.NewRequest("POST", "http://torale/v1/resolve", endless)
	if req.ContentLength != 0 {
		t.Fatal("the request would carry a Content-Length")
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 || !strings.Contains(string(b), ipc.CodeTooLarge) {
		t.Errorf("chunked body past the limit: %d %s", resp.StatusCode, b)
	}

	// A Content-Length past the limit is refused at once, before waiting
	// for a body that may never come.
	big, bigR := rawConn(t, sock)
	if _, err := big.Write([]byte("PUT /v1/credentials/default HTTP/1.1\r\nHost: torale\r\nContent-Length: 100000000\r\n\r\n{\"api_key\":")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_ = big.SetReadDeadline(start.Add(read - 300*time.Millisecond))
	if resp, err := http.ReadResponse(bigR, nil); err != nil {
		t.Errorf("Content-Length past the limit: no answer within %s: %v", time.Since(start), err)
	} else {
		if resp.StatusCode != 413 {
			t.Errorf("Content-Length past the limit: %d", resp.StatusCode)
		}
		resp.Body.Close()
	}

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

	if r := call(t, hc, "POST", "/v1/resolve", ""); r.status != 200 || r.body["api_key"] != testKey {
		t.Fatalf("resolve after the hostile clients: %d %s", r.status, r.raw)
	}
}

// TestConnectionCap: past MaxConns a new connection is closed at once (not
// after the header timeout), and the server answers again once the flood
// is gone.
func TestConnectionCap(t *testing.T) {
	const max = 8
	sock, srv := serve(t, newFake(nil), ipc.Options{MaxConns: max, ReadHeaderTimeout: 10 * time.Second})
	var held []net.Conn
	for range max {
		c, _ := rawConn(t, sock)
		held = append(held, c)
	}
	deadline := time.Now().Add(2 * time.Second)
	for srv.Conns() < max && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := srv.Conns(); n != max {
		t.Fatalf("Conns() = %d with %d connections open", n, max)
	}
	extra, _ := rawConn(t, sock)
	if d := closedWithin(t, extra, 2*time.Second); d > time.Second {
		t.Errorf("connection past the cap kept for %s", d)
	}
	for _, c := range held {
		c.Close()
	}
	deadline = time.Now().Add(2 * time.Second)
	for srv.Conns() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := srv.Conns(); n != 0 {
		t.Errorf("Conns() = %d after every client left", n)
	}
	if r := call(t, httpClient(sock), "GET", "/v1/health", ""); r.status != 200 {
		t.Fatalf("health after the flood: %d", r.status)
	}
	debugf(t, "conns=%d", srv.Conns())
}
