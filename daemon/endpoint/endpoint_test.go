package endpoint

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/zalando/go-keyring"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/keychain"
)

const (
	key1 = "sk_ENDPOINTendpointENDPOINTendpoint01"
	key2 = "sk_ROTATEDrotatedROTATEDrotatedROTAT02"
)

// memKeyring is a keychain in memory (these tests are about the endpoint,
// the daemon's end-to-end tests use the real Secret Service).
type memKeyring struct {
	mu sync.Mutex
	m  map[string]string
}

func (k *memKeyring) Get(s, u string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.m[s+"/"+u]
	if !ok {
		return "", keyring.ErrNotFound
	}
	return v, nil
}
func (k *memKeyring) Set(s, u, p string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.m[s+"/"+u] = p
	return nil
}
func (k *memKeyring) Delete(s, u string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, s+"/"+u)
	return nil
}

type fixture struct {
	store    *credstore.Store
	upstream *httptest.Server
	seen     chan http.Header
	url      string // the endpoint's
	token    string
}

// newFixture serves an endpoint over a Store whose profile "default" has
// key1 and whose real URL is a TLS stand-in; uid is the only peer served.
func newFixture(t *testing.T, uid uint32) *fixture {
	t.Helper()
	f := &fixture{seen: make(chan http.Header, 16)}
	f.upstream = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		h.Set("X-Test-Host", r.Host)
		h.Set("X-Test-Route", r.Method+" "+r.URL.RequestURI())
		f.seen <- h
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(append([]byte(`{"echo":`), append(strconvQuote(string(body)), '}')...))
	}))
	t.Cleanup(f.upstream.Close)
	home := t.TempDir()
	f.store = &credstore.Store{
		Keychain:   keychain.New(keychain.WithKeyring(&memKeyring{m: map[string]string{}})),
		StateFile:  credstore.StateFile{Dir: filepath.Join(home, "state")},
		ConfigPath: filepath.Join(home, "config.json"),
	}
	ctx := context.Background()
	u := f.upstream.URL
	if _, err := f.store.Put(ctx, "default", key1, credstore.PutOptions{APIURL: &u}); err != nil {
		t.Fatal(err)
	}
	l, err := Listen(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.SetEndpoint(l.Addr().(*net.TCPAddr).Port, false); err != nil {
		t.Fatal(err)
	}
	if f.token, err = f.store.LocalToken(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	srv := New(Options{Store: f.store, UID: &uid, Transport: f.upstream.Client().Transport})
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	f.url = "http://" + l.Addr().String()
	return f
}

func strconvQuote(s string) []byte { b, _ := json.Marshal(s); return b }

func (f *fixture) do(t *testing.T, method, path, auth, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, f.url+path, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestEndpointForwardsWithTheKey(t *testing.T) {
	f := newFixture(t, uint32(os.Getuid()))
	status, body := f.do(t, "POST", "/tasks?x=1", "Bearer "+f.token, `{"name":"n"}`)
	if status != 200 || body != `{"echo":"{\"name\":\"n\"}"}` {
		t.Fatalf("forwarded: %d %s", status, body)
	}
	h := <-f.seen
	if h.Get("Authorization") != "Bearer "+key1 || h.Get("X-Test-Route") != "POST /tasks?x=1" ||
		h.Get("X-Test-Host") != strings.TrimPrefix(f.upstream.URL, "https://") || h.Get("X-Forwarded-For") != "" {
		t.Errorf("the stand-in saw %v", h)
	}
	// A new key is the next request's.
	if _, err := f.store.Put(context.Background(), "default", key2, credstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if status, _ := f.do(t, "GET", "/auth/me", "bearer "+f.token, ""); status != 200 {
		t.Fatalf("after a new key: %d", status)
	}
	if h := <-f.seen; h.Get("Authorization") != "Bearer "+key2 {
		t.Errorf("after a new key the stand-in saw %q", h.Get("Authorization"))
	}
}

func TestEndpointRefuses(t *testing.T) {
	f := newFixture(t, uint32(os.Getuid()))
	for _, tc := range []struct{ name, method, path, auth string }{
		{"no token", "GET", "/auth/me", ""},
		{"basic auth", "GET", "/auth/me", "Basic " + f.token},
		{"a wrong token", "GET", "/auth/me", "Bearer tcl_" + strings.Repeat("A", 32)},
		{"a real key", "GET", "/auth/me", "Bearer " + key1},
		{"create a key", "POST", "/auth/api-keys", "Bearer " + f.token},
		{"create a key, slash", "POST", "/auth/api-keys/", "Bearer " + f.token},
		{"create a key, case", "POST", "/AUTH/API-KEYS", "Bearer " + f.token},
		{"create a key, escaped", "POST", "/auth%2Fapi-keys", "Bearer " + f.token},
		{"revoke a key", "DELETE", "/auth/api-keys/k1", "Bearer " + f.token},
		{"dot dot", "POST", "/auth/x/../api-keys", "Bearer " + f.token},
		{"double slash", "POST", "//auth/api-keys", "Bearer " + f.token},
	} {
		status, body := f.do(t, tc.method, tc.path, tc.auth, `{"name":"x"}`)
		var d struct{ Detail string }
		if err := json.Unmarshal([]byte(body), &d); status != 401 || err != nil || d.Detail == "" {
			t.Errorf("%s: %d %s", tc.name, status, body)
		}
		if strings.Contains(body, key1) || strings.Contains(body, f.token) {
			t.Errorf("%s: the answer holds the key or the token", tc.name)
		}
	}
	// Listing keys is reading: allowed.
	if status, _ := f.do(t, "GET", "/auth/api-keys", "Bearer "+f.token, ""); status != 200 {
		t.Errorf("GET /auth/api-keys: %d", status)
	}
	<-f.seen
	// Another Host (a web page's rebound name) is refused.
	req, _ := http.NewRequest("GET", f.url+"/auth/me", nil)
	req.Host = "evil.example:" + strings.Split(f.url, ":")[2]
	req.Header.Set("Authorization", "Bearer "+f.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("another host: %d", resp.StatusCode)
	}
	select {
	case h := <-f.seen:
		t.Errorf("a refused request reached the stand-in: %s", h.Get("X-Test-Route"))
	default:
	}
}

// TestEndpointRefusesAnotherUser: on Linux the TCP peer's uid is read from
// the kernel, not believed from the request.
func TestEndpointRefusesAnotherUser(t *testing.T) {
	if !peerSupported {
		t.Skip("this OS does not tell a TCP peer's user")
	}
	f := newFixture(t, uint32(os.Getuid())+1)
	status, body := f.do(t, "GET", "/auth/me", "Bearer "+f.token, "")
	if status != 401 || !strings.Contains(body, "own user") {
		t.Errorf("another user: %d %s", status, body)
	}
	select {
	case <-f.seen:
		t.Error("another user's request reached the stand-in")
	default:
	}
}

func TestTargetOf(t *testing.T) {
	s := &Server{port: "41234"}
	for _, tc := range []struct {
		url, source string
		ok          bool
	}{
		{"https://api.torale.ai", credstore.FromDefault, true},
		{"https://staging.example/api", credstore.FromConfig, true},
		{"http://localhost:8000", credstore.FromProfile, true},
		{"http://127.0.0.1:8000", credstore.FromConfig, true},
		{"http://[::1]:8000", credstore.FromConfig, true},
		{"http://api.torale.ai", credstore.FromConfig, false},
		{"http://127.0.0.1:41234", credstore.FromConfig, false},
		{"https://localhost:41234", credstore.FromProfile, false},
		{"ftp://x.example", credstore.FromConfig, false},
	} {
		_, err := s.targetOf(credstore.Resolution{Profile: "default", URL: tc.url, URLSource: tc.source})
		if (err == nil) != tc.ok {
			t.Errorf("%s (%s): %v", tc.url, tc.source, err)
		}
	}
}
