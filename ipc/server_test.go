package ipc_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/ipc"
)

const (
	testKey  = "sk_abc123def456ghi789jkl012mno345pqRST"
	testKey2 = "sk_ZYXwvu987tsr654qpo321nml098kjiHGF"
)

func TestRoutesAndErrors(t *testing.T) {
	st, mk := newStore(t)
	sock, _ := serve(t, newCache(st), ipc.Options{Version: "v-test"})
	hc := httpClient(sock)

	r := call(t, hc, "GET", "/v1/health", "")
	if r.status != 200 || r.body["status"] != "ok" || r.body["version"] != "v-test" || r.body["keychain"] != "ok" {
		t.Fatalf("health: %d %v", r.status, r.raw)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}

	cases := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"no key", "POST", "/v1/resolve", "", 404, ipc.CodeNotFound},
		{"no key, empty object", "POST", "/v1/resolve", "{}", 404, ipc.CodeNotFound},
		{"stored tier, no key", "GET", "/v1/credentials/default", "", 404, ipc.CodeNotFound},
		{"garbage", "POST", "/v1/resolve", "\x00\x01garbage", 400, ipc.CodeBadRequest},
		{"not an object", "POST", "/v1/resolve", `["profile"]`, 400, ipc.CodeBadRequest},
		{"two values", "POST", "/v1/resolve", `{} {}`, 400, ipc.CodeBadRequest},
		{"unknown field", "POST", "/v1/resolve", `{"apikey":"x"}`, 400, ipc.CodeBadRequest},
		{"non-string env", "POST", "/v1/resolve", `{"env":{"TORALE_NOAUTH":1}}`, 400, ipc.CodeBadRequest},
		{"bad profile", "POST", "/v1/resolve", `{"profile":"../etc"}`, 400, ipc.CodeBadProfile},
		{"bad profile in path", "GET", "/v1/credentials/-x", "", 400, ipc.CodeBadProfile},
		{"bad key", "PUT", "/v1/credentials/default", `{"api_key":"sk_short"}`, 400, ipc.CodeBadKey},
		{"no key in put", "PUT", "/v1/credentials/default", `{}`, 400, ipc.CodeBadRequest},
		{"bad source", "PUT", "/v1/credentials/default", `{"api_key":"` + testKey + `","source":"x"}`, 400, ipc.CodeBadRequest},
		{"delete none", "DELETE", "/v1/credentials/default", "", 404, ipc.CodeNotFound},
		{"method", "POST", "/v1/health", "", 405, ipc.CodeMethodNotAllowed},
		{"method resolve", "GET", "/v1/resolve", "", 405, ipc.CodeMethodNotAllowed},
		{"method list", "DELETE", "/v1/credentials", "", 405, ipc.CodeMethodNotAllowed},
		{"method profile", "POST", "/v1/credentials/default", "", 405, ipc.CodeMethodNotAllowed},
		{"unknown route", "GET", "/v2/keys", "", 404, ipc.CodeUnknownRoute},
		{"too large", "POST", "/v1/resolve", `{"profile":"default","env":{"X":"` + strings.Repeat("a", ipc.MaxBodyBytes) + `"}}`, 413, ipc.CodeTooLarge},
		{"too large put", "PUT", "/v1/credentials/default", strings.Repeat(" ", ipc.MaxBodyBytes+1), 413, ipc.CodeTooLarge},
	}
	for _, c := range cases {
		r := call(t, hc, c.method, c.path, c.body)
		if r.status != c.status || r.body["error"] != c.code {
			t.Errorf("%s: %s %s = %d %s, want %d %s", c.name, c.method, c.path, r.status, r.raw, c.status, c.code)
		}
		if msg, _ := r.body["message"].(string); msg == "" || strings.Contains(msg, testKey) || strings.Contains(msg, "sk_short") {
			t.Errorf("%s: message %q: want a sentence that quotes no key", c.name, msg)
		}
	}
	if r := call(t, hc, "POST", "/v1/health", ""); r.header.Get("Allow") != "GET, HEAD" {
		t.Errorf("405 Allow = %q", r.header.Get("Allow"))
	}

	// Store, resolve, list, read the stored tier, delete.
	r = call(t, hc, "PUT", "/v1/credentials/default", `{"api_key":"`+testKey+`"}`)
	if r.status != 200 || r.body["key_hint"] != "sk_...pqRST" || r.body["source"] != "login" || strings.Contains(r.raw, testKey) {
		t.Fatalf("put: %d %s", r.status, r.raw)
	}
	r = call(t, hc, "POST", "/v1/resolve", `{}`)
	if r.status != 200 || r.body["api_key"] != testKey || r.body["api_key_source"] != "keychain" || r.body["api_url"] != credstore.DefaultAPIURL {
		t.Fatalf("resolve: %d %s", r.status, r.raw)
	}
	rot, _ := r.body["rotation"].(map[string]any)
	if rot == nil || rot["age_days"] != 0.0 || rot["due"] != false || rot["due_at"] == "" {
		t.Errorf("rotation: %s", r.raw)
	}
	r = call(t, hc, "GET", "/v1/credentials", "")
	if r.status != 200 || !strings.Contains(r.raw, `"profile":"default"`) || strings.Contains(r.raw, testKey) {
		t.Errorf("list: %d %s", r.status, r.raw)
	}
	r = call(t, hc, "GET", "/v1/credentials/default", "")
	if r.status != 200 || r.body["api_key"] != testKey || r.body["api_key_source"] != "keychain" {
		t.Errorf("stored: %d %s", r.status, r.raw)
	}
	// The answer cache must follow a write made through the server.
	call(t, hc, "PUT", "/v1/credentials/default", `{"api_key":"`+testKey2+`"}`)
	if r := call(t, hc, "POST", "/v1/resolve", `{}`); r.body["api_key"] != testKey2 {
		t.Fatalf("after a second put: %s", r.raw)
	}
	if r := call(t, hc, "DELETE", "/v1/credentials/default", ""); r.status != 200 || r.body["deleted"] != true {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	if r := call(t, hc, "POST", "/v1/resolve", `{}`); r.status != 404 {
		t.Fatalf("after delete: %d %s", r.status, r.raw)
	}

	// TORALE_NOAUTH=1 with no key: 200, noauth, no key, source none.
	r = call(t, hc, "POST", "/v1/resolve", `{"env":{"TORALE_NOAUTH":"1"}}`)
	if r.status != 200 || r.body["noauth"] != true || r.body["api_key"] != "" || r.body["api_key_source"] != "none" || r.body["api_url_source"] != "dev" || r.body["rotation"] != nil {
		t.Errorf("noauth: %d %s", r.status, r.raw)
	}

	// A keychain failure is 503 for the stored tier, never "no key"; a flag
	// key is still answered.
	mk.setFail(errors.New("org.freedesktop.DBus.Error.ServiceUnknown: The name is not activatable"))
	r = call(t, hc, "POST", "/v1/resolve", `{"profile":"other"}`)
	if r.status != 503 || r.body["error"] != ipc.CodeKeychain {
		t.Errorf("keychain down: %d %s", r.status, r.raw)
	}
	r = call(t, hc, "POST", "/v1/resolve", `{"profile":"other","api_key":"`+testKey+`"}`)
	if r.status != 200 || r.body["api_key_source"] != "flag" {
		t.Errorf("flag while keychain down: %d %s", r.status, r.raw)
	}
}

func TestClientTypedErrors(t *testing.T) {
	st, _ := newStore(t)
	sock, _ := serve(t, newCache(st), ipc.Options{})
	c := ipc.NewClient(sock)
	defer c.Close()
	ctx := t.Context()
	_, err := c.Resolve(ctx, credstore.Request{Profile: "default"})
	var ie *ipc.Error
	if !errors.As(err, &ie) || ie.Status != 404 || !errors.Is(err, credstore.ErrNotFound) || errors.Is(err, credstore.ErrKeychain) {
		t.Fatalf("resolve with no key: %v", err)
	}
	if _, err := c.Put(ctx, "default", "sk_bad", credstore.PutOptions{}); !errors.Is(err, credstore.ErrBadKey) {
		t.Fatalf("bad key: %v", err)
	}
	if _, err := c.Put(ctx, "default", testKey, credstore.PutOptions{Source: credstore.SourceGit}); err != nil {
		t.Fatal(err)
	}
	r, err := c.Resolve(ctx, credstore.Request{Profile: "default", Env: credstore.Env{Dev: "1"}})
	if err != nil || r.APIKey != testKey || r.APIURLSource != credstore.FromDev {
		t.Fatalf("resolve: %+v %v", r, err)
	}
	l, err := c.List(ctx)
	if err != nil || len(l.Profiles) != 1 || l.Profiles[0].Source != credstore.SourceGit {
		t.Fatalf("list: %+v %v", l, err)
	}
	if err := c.Delete(ctx, "default"); err != nil {
		t.Fatal(err)
	}

	// Nothing listening: ErrNoDaemon, so callers fall back.
	none := ipc.NewClient(shortDir(t) + "/nobody.sock")
	if _, err := none.Health(ctx); !errors.Is(err, ipc.ErrNoDaemon) {
		t.Fatalf("no daemon: %v", err)
	}
}

// rawConn opens a connection and returns a reader on it.
func rawConn(t *testing.T, sock string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

// closedWithin reports how long until the server closed c.
func closedWithin(t *testing.T, c net.Conn, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(limit))
	_, err := io.Copy(io.Discard, c)
	if err != nil {
		t.Fatalf("the server did not close the connection within %s: %v", limit, err)
	}
	return time.Since(start)
}

func TestSlowAndHostileClients(t *testing.T) {
	st, _ := newStore(t)
	sock, srv := serve(t, newCache(st), ipc.Options{ReadHeaderTimeout: 300 * time.Millisecond, ReadTimeout: 500 * time.Millisecond, MaxConns: 8})
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
	if os.Getenv("TORALE_CRED_DEBUG") != "" {
		t.Logf("conns=%d", srv.Conns())
	}
}
