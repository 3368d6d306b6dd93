package ipc_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/ipc"
)

// memKeyring is an in-memory keychain for tests of the real resolver over
// the wire; the real Secret Service is exercised in keyring_test.go and by
// the daemon package's tests.
type memKeyring struct {
	mu   sync.Mutex
	m    map[string]string
	fail error
}

func (k *memKeyring) Get(s, u string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.fail != nil {
		return "", k.fail
	}
	v, ok := k.m[s+"/"+u]
	if !ok {
		return "", keyring.ErrNotFound
	}
	return v, nil
}

func (k *memKeyring) Set(s, u, p string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.fail != nil {
		return k.fail
	}
	k.m[s+"/"+u] = p
	return nil
}

func (k *memKeyring) Delete(s, u string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.fail != nil {
		return k.fail
	}
	if _, ok := k.m[s+"/"+u]; !ok {
		return keyring.ErrNotFound
	}
	delete(k.m, s+"/"+u)
	return nil
}

func (k *memKeyring) setFail(err error) { k.mu.Lock(); k.fail = err; k.mu.Unlock() }

// newStore is the real credstore.Store (resolver, metadata, config.json
// fallback) over an in-memory keyring, in a private temporary directory.
func newStore(t *testing.T) (*credstore.Store, *memKeyring) {
	t.Helper()
	mk := &memKeyring{m: map[string]string{}}
	dir := t.TempDir()
	return &credstore.Store{
		Keychain:   keychain.New(keychain.WithKeyring(mk), keychain.WithTimeout(2*time.Second)),
		StateFile:  credstore.StateFile{Dir: filepath.Join(dir, "state")},
		ConfigPath: filepath.Join(dir, "config.json"),
	}, mk
}

// maxSocketPath is the longest socket path every supported system binds:
// sun_path is 104 bytes on macOS (108 on Linux), with its NUL.
const maxSocketPath = 103

// shortDir is a private directory (t.TempDir) with a path short enough to
// hold a socket; a test whose name makes it too long fails here, rather
// than with a confusing bind error.
func shortDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	if len(d)+len("/torale/cred.sock") > maxSocketPath {
		t.Fatalf("temporary directory %s is too long for a Unix socket; shorten the test name or TMPDIR", d)
	}
	return d
}

// serve runs a server for b on a fresh private socket and returns its path.
func serve(t *testing.T, b credstore.Backend, o ipc.Options) (string, *ipc.Server) {
	t.Helper()
	sock := filepath.Join(shortDir(t), "torale", "cred.sock")
	l, err := ipc.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := ipc.NewServer(b, o)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = l.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return sock, srv
}

func httpClient(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}, Timeout: 5 * time.Second}
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func call(t *testing.T, hc *http.Client, method, path, body string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://torale"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if method != http.MethodHead {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %q", method, path, raw)
		}
	}
	return r
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

// debugf logs only under TORALE_CRED_DEBUG.
func debugf(t *testing.T, format string, a ...any) {
	t.Helper()
	if os.Getenv("TORALE_CRED_DEBUG") != "" {
		t.Logf(format, a...)
	}
}
