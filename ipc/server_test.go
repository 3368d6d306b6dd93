package ipc_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/ipc"
)

const (
	testKey  = "sk_abc123def456ghi789jkl012mno345pqRST"
	testKey2 = "sk_ZYXwvu987tsr654qpo321nml098kjiHGF"
)

// TestRoutesAndErrors drives the real resolver (credstore.Store over an
// in-memory keyring) through the socket with net/http: every route, every
// JSON error, and a store → resolve → list → delete round.
func TestRoutesAndErrors(t *testing.T) {
	st, mk := newStore(t)
	sock, _ := serve(t, st, ipc.Options{Version: "v-test"})
	hc := httpClient(sock)

	r := call(t, hc, "GET", "/v1/health", "")
	if r.status != 200 || r.body["status"] != "ok" || r.body["version"] != "v-test" || r.body["keychain"] != "ok" {
		t.Fatalf("health: %d %v", r.status, r.raw)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if r := call(t, hc, "HEAD", "/v1/health", ""); r.status != 200 {
		t.Errorf("HEAD /v1/health: %d", r.status)
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
		{"bad env profile", "POST", "/v1/resolve", `{"env":{"TORALE_PROFILE":"a b"}}`, 400, ipc.CodeBadProfile},
		{"bad flag URL", "POST", "/v1/resolve", `{"api_url":"ftp://x"}`, 400, ipc.CodeBadURL},
		{"bad env URL", "POST", "/v1/resolve", `{"env":{"TORALE_API_URL":"not a url"}}`, 400, ipc.CodeBadURL},
		{"bad profile in path", "GET", "/v1/credentials/-x", "", 400, ipc.CodeBadProfile},
		{"bad profile in put path", "PUT", "/v1/credentials/-x", `{"api_key":"` + testKey + `"}`, 400, ipc.CodeBadProfile},
		{"bad profile in delete path", "DELETE", "/v1/credentials/a%20b", "", 400, ipc.CodeBadProfile},
		{"bad key", "PUT", "/v1/credentials/default", `{"api_key":"sk_short"}`, 400, ipc.CodeBadKey},
		{"no key in put", "PUT", "/v1/credentials/default", `{}`, 400, ipc.CodeBadRequest},
		{"bad source", "PUT", "/v1/credentials/default", `{"api_key":"` + testKey + `","source":"x"}`, 400, ipc.CodeBadRequest},
		{"bad put URL", "PUT", "/v1/credentials/default", `{"api_key":"` + testKey + `","api_url":"javascript:x"}`, 400, ipc.CodeBadURL},
		{"delete none", "DELETE", "/v1/credentials/default", "", 404, ipc.CodeNotFound},
		{"method", "POST", "/v1/health", "", 405, ipc.CodeMethodNotAllowed},
		{"method resolve", "GET", "/v1/resolve", "", 405, ipc.CodeMethodNotAllowed},
		{"method list", "DELETE", "/v1/credentials", "", 405, ipc.CodeMethodNotAllowed},
		{"method profile", "POST", "/v1/credentials/default", "", 405, ipc.CodeMethodNotAllowed},
		{"unknown route", "GET", "/v2/keys", "", 404, ipc.CodeUnknownRoute},
		{"root", "GET", "/", "", 404, ipc.CodeUnknownRoute},
		{"too large", "POST", "/v1/resolve", `{"profile":"default","env":{"X":"` + strings.Repeat("a", ipc.MaxBodyBytes) + `"}}`, 413, ipc.CodeTooLarge},
		{"too large put", "PUT", "/v1/credentials/default", strings.Repeat(" ", ipc.MaxBodyBytes+1), 413, ipc.CodeTooLarge},
	}
	for _, c := range cases {
		r := call(t, hc, c.method, c.path, c.body)
		if r.status != c.status || r.body["error"] != c.code {
			t.Errorf("%s: %s %s = %d %s, want %d %s", c.name, c.method, c.path, r.status, r.raw, c.status, c.code)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q", c.name, ct)
		}
		if msg, _ := r.body["message"].(string); msg == "" || strings.Contains(msg, testKey) || strings.Contains(msg, "sk_short") {
			t.Errorf("%s: message %q: want a sentence that quotes no key", c.name, msg)
		}
	}
	// The write that the 400s refused never happened.
	if _, err := st.Stored(t.Context(), "default"); !errors.Is(err, storeerr.ErrNotFound) {
		t.Fatalf("a refused PUT stored something: %v", err)
	}
	for path, want := range map[string]string{
		"/v1/health":              "GET, HEAD",
		"/v1/resolve":             "POST",
		"/v1/credentials":         "GET, HEAD",
		"/v1/credentials/default": "GET, HEAD, PUT, DELETE",
	} {
		if r := call(t, hc, "PATCH", path, ""); r.status != 405 || r.header.Get("Allow") != want {
			t.Errorf("PATCH %s: %d, Allow = %q, want %q", path, r.status, r.header.Get("Allow"), want)
		}
	}

	// Store, resolve, list, read the stored tier, delete.
	r = call(t, hc, "PUT", "/v1/credentials/default", `{"api_key":"`+testKey+`"}`)
	if r.status != 200 || r.body["profile"] != "default" || r.body["key_hint"] != "sk_...pqRST" || r.body["source"] != "login" || strings.Contains(r.raw, testKey) {
		t.Fatalf("put: %d %s", r.status, r.raw)
	}
	r = call(t, hc, "POST", "/v1/resolve", `{}`)
	if r.status != 200 || r.body["profile"] != "default" || r.body["api_key"] != testKey || r.body["api_key_source"] != "keychain" ||
		r.body["api_url"] != credstore.DefaultAPIURL || r.body["api_url_source"] != "default" || r.body["noauth"] != false {
		t.Fatalf("resolve: %d %s", r.status, r.raw)
	}
	rot, _ := r.body["rotation"].(map[string]any)
	if rot == nil || rot["age_days"] != 0.0 || rot["due"] != false || rot["due_at"] == "" {
		t.Errorf("rotation: %s", r.raw)
	}
	// flag > environment > stored, over the wire.
	r = call(t, hc, "POST", "/v1/resolve", `{"env":{"TORALE_API_KEY":"`+testKey2+`"}}`)
	if r.status != 200 || r.body["api_key"] != testKey2 || r.body["api_key_source"] != "env" {
		t.Errorf("env tier: %d %s", r.status, r.raw)
	}
	r = call(t, hc, "POST", "/v1/resolve", `{"api_key":"`+testKey+`","env":{"TORALE_API_KEY":"`+testKey2+`","TORALE_DEV":"1"}}`)
	if r.status != 200 || r.body["api_key"] != testKey || r.body["api_key_source"] != "flag" || r.body["api_url"] != credstore.DevAPIURL {
		t.Errorf("flag tier: %d %s", r.status, r.raw)
	}
	r = call(t, hc, "GET", "/v1/credentials", "")
	if r.status != 200 || !strings.Contains(r.raw, `"profile":"default"`) || strings.Contains(r.raw, testKey) {
		t.Errorf("list: %d %s", r.status, r.raw)
	}
	r = call(t, hc, "GET", "/v1/credentials/default", "")
	if r.status != 200 || r.body["api_key"] != testKey || r.body["api_key_source"] != "keychain" {
		t.Errorf("stored: %d %s", r.status, r.raw)
	}
	// Nothing between the handler and the store may keep an old answer.
	call(t, hc, "PUT", "/v1/credentials/default", `{"api_key":"`+testKey2+`"}`)
	if r := call(t, hc, "POST", "/v1/resolve", `{}`); r.body["api_key"] != testKey2 {
		t.Fatalf("after a second put: %s", r.raw)
	}
	if r := call(t, hc, "DELETE", "/v1/credentials/default", ""); r.status != 200 || r.body["deleted"] != true || r.body["profile"] != "default" {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	if r := call(t, hc, "POST", "/v1/resolve", `{}`); r.status != 404 {
		t.Fatalf("after delete: %d %s", r.status, r.raw)
	}
	if r := call(t, hc, "GET", "/v1/credentials", ""); r.status != 200 || r.raw != "{\"profiles\":[]}\n" {
		t.Errorf("empty list: %d %q", r.status, r.raw)
	}

	// TORALE_NOAUTH=1 with no key: 200, noauth, no key, source none.
	r = call(t, hc, "POST", "/v1/resolve", `{"env":{"TORALE_NOAUTH":"1"}}`)
	if r.status != 200 || r.body["noauth"] != true || r.body["api_key"] != "" || r.body["api_key_source"] != "none" || r.body["api_url_source"] != "dev" || r.body["rotation"] != nil {
		t.Errorf("noauth: %d %s", r.status, r.raw)
	}
	// The SDK compares to "1" exactly: "true" is not noauth.
	if r := call(t, hc, "POST", "/v1/resolve", `{"env":{"TORALE_NOAUTH":"true"}}`); r.status != 404 {
		t.Errorf("TORALE_NOAUTH=true: %d %s", r.status, r.raw)
	}

	// A keychain failure is 503 for the stored tier, never "no key"; a flag
	// key is still answered, and health says why.
	mk.setFail(errors.New("org.freedesktop.DBus.Error.ServiceUnknown: The name is not activatable"))
	r = call(t, hc, "POST", "/v1/resolve", `{"profile":"other"}`)
	if r.status != 503 || r.body["error"] != ipc.CodeKeychain {
		t.Errorf("keychain down: %d %s", r.status, r.raw)
	}
	r = call(t, hc, "GET", "/v1/credentials/other", "")
	if r.status != 503 || r.body["error"] != ipc.CodeKeychain {
		t.Errorf("keychain down, stored tier: %d %s", r.status, r.raw)
	}
	r = call(t, hc, "POST", "/v1/resolve", `{"profile":"other","api_key":"`+testKey+`"}`)
	if r.status != 200 || r.body["api_key_source"] != "flag" {
		t.Errorf("flag while keychain down: %d %s", r.status, r.raw)
	}
	// Health pings without a read: the in-memory keyring has no probe, so
	// the keychain stays "ok" here; the fake backend tests the other word.
	if r := call(t, hc, "GET", "/v1/health", ""); r.status != 200 {
		t.Errorf("health while keychain down: %d %s", r.status, r.raw)
	}
}

// scripted is one Backend error and what the wire must make of it.
type scripted struct {
	name     string
	err      error
	status   int
	code     string
	sentinel error // what ipc.Client's error must match with errors.Is
}

func scriptedErrors() []scripted {
	return []scripted{
		{"no key", &credstore.NoKeyError{Profile: "work"}, 404, ipc.CodeNotFound, storeerr.ErrNotFound},
		{"keychain locked", &keychain.Error{Fault: keychain.FaultLocked, Reason: "read: failed to unlock", Fix: "unlock it"}, 503, ipc.CodeKeychain, storeerr.ErrKeychain},
		{"keychain timeout", &keychain.Error{Fault: keychain.FaultTimeout, Reason: "read took longer than 3s"}, 503, ipc.CodeKeychain, storeerr.ErrKeychain},
		{"bad url", fmt.Errorf("%w: TORALE_API_URL must start with https://", credstore.ErrBadURL), 400, ipc.CodeBadURL, credstore.ErrBadURL},
		{"denied", fmt.Errorf("%w: this caller may not read profile work", credstore.ErrDenied), 403, ipc.CodeDenied, credstore.ErrDenied},
		{"bad key", fmt.Errorf("%w: too short", apikey.ErrBadKey), 400, ipc.CodeBadKey, apikey.ErrBadKey},
		{"bad profile", fmt.Errorf("%w \"x y\"", credstore.ErrBadProfile), 400, ipc.CodeBadProfile, credstore.ErrBadProfile},
		{"bad request", fmt.Errorf("%w: env.TORALE_DEV must be a string", credstore.ErrBadRequest), 400, ipc.CodeBadRequest, credstore.ErrBadRequest},
		{"internal", errInternal, 500, ipc.CodeInternal, nil},
	}
}

var allSentinels = []error{storeerr.ErrNotFound, storeerr.ErrKeychain, credstore.ErrBadURL, credstore.ErrDenied,
	apikey.ErrBadKey, credstore.ErrBadProfile, credstore.ErrBadRequest}

// TestServerMapsBackendErrors: every Backend error, from every route, is
// one status and one code, with the error's own sentence as the message.
func TestServerMapsBackendErrors(t *testing.T) {
	fb := newFake(map[string]string{"work": testKey})
	sock, _ := serve(t, fb, ipc.Options{})
	hc := httpClient(sock)
	routes := []struct{ method, backend, path, body string }{
		{"POST", "Resolve", "/v1/resolve", `{"profile":"work"}`},
		{"GET", "Stored", "/v1/credentials/work", ""},
		{"GET", "List", "/v1/credentials", ""},
		{"PUT", "Put", "/v1/credentials/work", `{"api_key":"` + testKey2 + `"}`},
		{"DELETE", "Delete", "/v1/credentials/work", ""},
	}
	for _, s := range scriptedErrors() {
		for _, rt := range routes {
			fb.fail(rt.backend, s.err)
			r := call(t, hc, rt.method, rt.path, rt.body)
			fb.fail(rt.backend, nil)
			if r.status != s.status || r.body["error"] != s.code {
				t.Errorf("%s from %s: %s %s = %d %s, want %d %s", s.name, rt.backend, rt.method, rt.path, r.status, r.raw, s.status, s.code)
			}
			want := strings.TrimPrefix(s.err.Error(), "bad request: ")
			if r.body["message"] != want {
				t.Errorf("%s from %s: message %q, want %q", s.name, rt.backend, r.body["message"], want)
			}
			if strings.Contains(r.raw, testKey) || strings.Contains(r.raw, testKey2) {
				t.Errorf("%s from %s: an error answer holds a key: %s", s.name, rt.backend, r.raw)
			}
		}
	}
	// Health answers 200 whatever the keychain says, and says it.
	fb.fail("Health", &keychain.Error{Fault: keychain.FaultLocked, Reason: "collection login"})
	r := call(t, hc, "GET", "/v1/health", "")
	if r.status != 200 || r.body["status"] != "ok" || r.body["keychain"] != "unavailable: locked (collection login)" {
		t.Errorf("health, keychain locked: %d %s", r.status, r.raw)
	}
	fb.fail("Health", nil)
	if r := call(t, hc, "GET", "/v1/health", ""); r.body["keychain"] != "ok" || r.body["watching"] != false {
		t.Errorf("health: %s", r.raw)
	}
	// Nothing scripted: the fake's answers come through as the Backend gave them.
	r = call(t, hc, "GET", "/v1/credentials/work", "")
	if r.status != 200 || r.body["api_key"] != testKey || r.body["api_key_source"] != "keychain" || r.body["rotation"] != nil {
		t.Errorf("stored: %d %s", r.status, r.raw)
	}
}

// TestServerPassesRequestsThrough: the Backend gets exactly what the
// caller sent, profile, key and options, and nothing is answered from
// anywhere but the Backend.
func TestServerPassesRequestsThrough(t *testing.T) {
	fb := newFake(nil)
	sock, _ := serve(t, fb, ipc.Options{Watching: true})
	hc := httpClient(sock)
	if r := call(t, hc, "GET", "/v1/health", ""); r.body["watching"] != true {
		t.Errorf("watching: %s", r.raw)
	}
	r := call(t, hc, "PUT", "/v1/credentials/ci.bot-1", `{"api_key":"`+testKey+`","source":"rotate","created_at":"2026-01-02T03:04:05Z","key_id":"k1","api_url":"https://torale.example"}`)
	if r.status != 200 || r.body["profile"] != "ci.bot-1" || r.body["source"] != "rotate" || r.body["key_id"] != "k1" || strings.Contains(r.raw, testKey) {
		t.Fatalf("put: %d %s", r.status, r.raw)
	}
	p, n := fb.lastPut()
	if n != 1 || p.Profile != "ci.bot-1" || p.Key != testKey || p.Opts.Source != "rotate" || p.Opts.KeyID == nil || *p.Opts.KeyID != "k1" ||
		p.Opts.CreatedAt == nil || !p.Opts.CreatedAt.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) || p.Opts.APIURL == nil || *p.Opts.APIURL != "https://torale.example" {
		t.Fatalf("the backend got %+v", p)
	}
	// Every request reaches the Backend: a second identical look-up is
	// asked again, and a write between two look-ups is seen.
	for i := range 2 {
		if r := call(t, hc, "POST", "/v1/resolve", `{"profile":"ci.bot-1"}`); r.body["api_key"] != testKey {
			t.Fatalf("resolve %d: %s", i, r.raw)
		}
	}
	if _, n := fb.lastRequest(); n != 2 {
		t.Fatalf("the backend saw %d look-ups, want 2", n)
	}
	fb.mu.Lock()
	fb.keys["ci.bot-1"] = testKey2
	fb.mu.Unlock()
	if r := call(t, hc, "POST", "/v1/resolve", `{"profile":"ci.bot-1"}`); r.body["api_key"] != testKey2 {
		t.Fatalf("a change behind the server was not seen: %s", r.raw)
	}
	r = call(t, hc, "GET", "/v1/credentials", "")
	if r.status != 200 || !strings.Contains(r.raw, `"profile":"ci.bot-1"`) || !strings.Contains(r.raw, `"key_hint":"sk_...jiHGF"`) || strings.Contains(r.raw, testKey2) {
		t.Errorf("list: %d %s", r.status, r.raw)
	}
	// Refused requests never reach the Backend.
	before := fb.callCount()
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1/resolve", `{"profile":"a","profile":"b"}`},
		{"PUT", "/v1/credentials/x", `{}`},
		{"PUT", "/v1/credentials/x", `{"api_key":"` + testKey + `","source":"sneaky"}`},
		{"PUT", "/v1/credentials/-x", `{"api_key":"` + testKey + `"}`},
		{"GET", "/v1/credentials/..", ""},
		{"DELETE", "/v1/credentials/.x", ""},
		{"POST", "/v1/credentials/x", ""},
	} {
		if r := call(t, hc, c.method, c.path, c.body); r.status < 400 {
			t.Errorf("%s %s %s: %d %s", c.method, c.path, c.body, r.status, r.raw)
		}
	}
	if after := fb.callCount(); after != before {
		t.Errorf("%d refused requests reached the backend", after-before)
	}
}

// TestClientTypedErrors: ipc.Client is a credstore.Backend whose errors
// match credstore's sentinels with errors.Is exactly as the local ones do
// (each error matches its own sentinel and no other), over a scripted
// fake, then over the real store.
func TestClientTypedErrors(t *testing.T) {
	fb := newFake(map[string]string{"work": testKey})
	sock, _ := serve(t, fb, ipc.Options{})
	c := ipc.NewClient(sock, 5*time.Second)
	defer c.Close()
	ctx := t.Context()
	var b credstore.Backend = c
	calls := map[string]func() error{
		"Resolve": func() error { _, err := b.Resolve(ctx, credstore.Request{Profile: "work"}); return err },
		"Stored":  func() error { _, err := b.Stored(ctx, "work"); return err },
		"List":    func() error { _, err := b.List(ctx); return err },
		"Put":     func() error { _, err := b.Put(ctx, "work", testKey, credstore.PutOptions{}); return err },
		"Delete":  func() error { return b.Delete(ctx, "work") },
	}
	for _, s := range scriptedErrors() {
		for method, do := range calls {
			fb.fail(method, s.err)
			err := do()
			fb.fail(method, nil)
			var ie *ipc.Error
			if !errors.As(err, &ie) || ie.Status != s.status || ie.Code != s.code {
				t.Errorf("%s from %s: client error %#v", s.name, method, err)
				continue
			}
			for _, sen := range allSentinels {
				if got, want := errors.Is(err, sen), sen == s.sentinel; got != want {
					t.Errorf("%s from %s: errors.Is(err, %q) = %v", s.name, method, sen, got)
				}
			}
			if errors.Is(err, ipc.ErrNoDaemon) || errors.Is(err, ipc.ErrDaemonStuck) {
				t.Errorf("%s from %s: an answer is not a missing daemon: %v", s.name, method, err)
			}
			if want := strings.TrimPrefix(s.err.Error(), "bad request: "); err.Error() != want {
				t.Errorf("%s from %s: %q, want the daemon's sentence %q", s.name, method, err, want)
			}
		}
	}
	fb.fail("Health", &keychain.Error{Fault: keychain.FaultUnavailable, Reason: "no Secret Service"})
	if err := c.Health(ctx); !errors.Is(err, storeerr.ErrKeychain) || errors.Is(err, storeerr.ErrNotFound) {
		t.Errorf("health, keychain down: %v", err)
	}
	fb.fail("Health", nil)
	if err := c.Health(ctx); err != nil {
		t.Errorf("health: %v", err)
	}

	// The fake's answers come back field for field.
	r, err := c.Resolve(ctx, credstore.Request{Profile: "work", Env: credstore.Env{NoAuth: "1", APIURL: "https://x"}})
	if err != nil || r.Key != testKey || r.KeySource != credstore.FromKeychain || !r.NoAuth || r.Profile != "work" {
		t.Fatalf("resolve: %+v %v", r, err)
	}
	req, _ := fb.lastRequest()
	if req.Profile != "work" || req.Env.NoAuth != "1" || req.Env.APIURL != "https://x" {
		t.Errorf("the backend got %+v", req)
	}
}

// TestClientOverRealStore: the same calls through ipc.Client against the
// real resolver.
func TestClientOverRealStore(t *testing.T) {
	st, _ := newStore(t)
	sock, _ := serve(t, st, ipc.Options{})
	c := ipc.NewClient(sock, 5*time.Second)
	defer c.Close()
	ctx := credstore.WithDoor(t.Context(), credstore.DoorToken) // a door: a key is handed out
	_, err := c.Resolve(ctx, credstore.Request{Profile: "default"})
	var ie *ipc.Error
	if !errors.As(err, &ie) || ie.Status != 404 || !errors.Is(err, storeerr.ErrNotFound) || errors.Is(err, storeerr.ErrKeychain) {
		t.Fatalf("resolve with no key: %v", err)
	}
	if err.Error() != credstore.NoKeyMessage("default") {
		t.Errorf("no key: %q", err)
	}
	// A malformed key's message shows at most its first 7 characters.
	if _, err := c.Put(ctx, "default", "sk_badkey!", credstore.PutOptions{}); !errors.Is(err, apikey.ErrBadKey) || strings.Contains(err.Error(), "sk_badke") {
		t.Fatalf("bad key: %v", err)
	}
	if _, err := c.Put(ctx, "a b", testKey, credstore.PutOptions{}); !errors.Is(err, credstore.ErrBadProfile) {
		t.Fatalf("bad profile: %v", err)
	}
	info, err := c.Put(ctx, "default", testKey, credstore.PutOptions{Source: credstore.SourceGit})
	if err != nil || info.Name != "default" || info.KeyHint != "sk_...pqRST" || info.Source != credstore.SourceGit || info.Rotation == nil {
		t.Fatalf("put: %+v %v", info, err)
	}
	r, err := c.Resolve(ctx, credstore.Request{Profile: "default", Env: credstore.Env{Dev: "1"}})
	if err != nil || r.Key != testKey || r.KeySource != credstore.FromKeychain || r.URL != credstore.DevAPIURL || r.URLSource != credstore.FromDev || r.Rotation == nil {
		t.Fatalf("resolve: %+v %v", r, err)
	}
	if r, err := c.Resolve(ctx, credstore.Request{Env: credstore.Env{APIURL: "gopher://x"}}); !errors.Is(err, credstore.ErrBadURL) {
		t.Fatalf("bad URL: %+v %v", r, err)
	}
	r, err = c.Stored(ctx, "default")
	if err != nil || r.Key != testKey || r.KeySource != credstore.FromKeychain {
		t.Fatalf("stored: %+v %v", r, err)
	}
	l, err := c.List(ctx)
	if err != nil || len(l) != 1 || l[0].Name != "default" || l[0].Source != credstore.SourceGit {
		t.Fatalf("list: %+v %v", l, err)
	}
	// The daemon's answer and the local one are the same answer.
	local, lerr := st.Resolve(ctx, credstore.Request{Profile: "default"})
	remote, rerr := c.Resolve(ctx, credstore.Request{Profile: "default"})
	if lerr != nil || rerr != nil || local.Key != remote.Key || local.URL != remote.URL || local.KeySource != remote.KeySource ||
		local.Rotation == nil || remote.Rotation == nil || !local.Rotation.DueAt.Equal(remote.Rotation.DueAt) {
		t.Errorf("local %+v %v, remote %+v %v", local, lerr, remote, rerr)
	}
	if err := c.Delete(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "default"); !errors.Is(err, storeerr.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

// TestClientWithoutADaemon: nothing listening is ErrNoDaemon, so callers
// fall back to the keychain; a daemon that accepts and never answers (or
// cuts the connection) is ErrDaemonStuck within the client's timeout.
func TestClientWithoutADaemon(t *testing.T) {
	ctx := t.Context()
	dir := shortDir(t)

	// No file, no directory, a stale socket nobody accepts on.
	stale := dir + "/stale.sock"
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ul.SetUnlinkOnClose(false)
	ul.Close()
	for _, p := range []string{dir + "/nobody.sock", dir + "/no/such/dir.sock", stale} {
		c := ipc.NewClient(p, 2*time.Second)
		start := time.Now()
		if err := c.Health(ctx); !errors.Is(err, ipc.ErrNoDaemon) || errors.Is(err, ipc.ErrDaemonStuck) {
			t.Errorf("%s: %v, want ErrNoDaemon", p, err)
		}
		if _, err := c.Resolve(ctx, credstore.Request{}); !errors.Is(err, ipc.ErrNoDaemon) {
			t.Errorf("%s: resolve: %v, want ErrNoDaemon", p, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: telling that no daemon runs took %s", p, d)
		}
		if c.Socket() != p {
			t.Errorf("Socket() = %q", c.Socket())
		}
	}

	// Accepts and holds the connection: stuck, within the timeout.
	hold := dir + "/hold.sock"
	hl, err := net.Listen("unix", hold)
	if err != nil {
		t.Fatal(err)
	}
	held := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := hl.Accept()
			if err != nil {
				return
			}
			held <- c
		}
	}()
	t.Cleanup(func() {
		hl.Close()
		for {
			select {
			case c := <-held:
				c.Close()
			default:
				return
			}
		}
	})
	const timeout = 300 * time.Millisecond
	c := ipc.NewClient(hold, timeout)
	defer c.Close()
	for name, do := range map[string]func() error{
		"health":  func() error { return c.Health(ctx) },
		"resolve": func() error { _, err := c.Resolve(ctx, credstore.Request{FlagKey: testKey}); return err },
		"put":     func() error { _, err := c.Put(ctx, "default", testKey, credstore.PutOptions{}); return err },
	} {
		start := time.Now()
		err := do()
		d := time.Since(start)
		if !errors.Is(err, ipc.ErrDaemonStuck) || errors.Is(err, ipc.ErrNoDaemon) || errors.Is(err, storeerr.ErrNotFound) {
			t.Errorf("%s on a daemon that never answers: %v, want ErrDaemonStuck", name, err)
		}
		// It gives up at the bound, never before; the slack above it only
		// turns a hang into a failure (a loaded machine stalls for seconds).
		if d < timeout/2 || d > timeout+20*time.Second {
			t.Errorf("%s: gave up after %s, want about %s", name, d, timeout)
		}
		if err != nil && strings.Contains(err.Error(), testKey) {
			t.Errorf("%s: the error holds the key: %v", name, err)
		}
	}

	// Hangs up without a word (at once, or after reading the whole
	// request), or in the middle of its answer: stuck too.
	for i, d := range []struct {
		name   string
		answer func(c net.Conn)
	}{
		{"hangs up at once", func(c net.Conn) { _, _ = c.Read(make([]byte, 1)) }},
		{"hangs up after the request", func(c net.Conn) {
			if req, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
				_, _ = io.Copy(io.Discard, req.Body)
			}
		}},
		{"cuts its answer short", func(c net.Conn) {
			if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"status\":")
			}
		}},
	} {
		name, answer := d.name, d.answer
		sock := fmt.Sprintf("%s/cut%d.sock", dir, i)
		cl, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		go func() {
			for {
				c, err := cl.Accept()
				if err != nil {
					return
				}
				answer(c)
				c.Close()
			}
		}()
		// A bound far beyond any stall: noticed well within it is the
		// hang-up noticed, not the bound run out.
		const bound = time.Minute
		cc := ipc.NewClient(sock, bound)
		defer cc.Close()
		start := time.Now()
		if _, err := cc.Resolve(ctx, credstore.Request{FlagKey: testKey}); !errors.Is(err, ipc.ErrDaemonStuck) || errors.Is(err, ipc.ErrNoDaemon) {
			t.Errorf("a daemon that %s: %v, want ErrDaemonStuck", name, err)
		} else if strings.Contains(err.Error(), testKey) {
			t.Errorf("a daemon that %s: the error holds the key: %v", name, err)
		}
		if d := time.Since(start); d > bound/2 {
			t.Errorf("a daemon that %s: noticed after %s, as if waiting out the %s bound", name, d, bound)
		}
	}

	// The caller's own deadline is the caller's: context.DeadlineExceeded.
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	slow := ipc.NewClient(hold, 0)
	defer slow.Close()
	if err := slow.Health(cctx); !errors.Is(err, cctx.Err()) || cctx.Err() == nil {
		t.Errorf("caller's deadline: %v (ctx %v)", err, cctx.Err())
	}
}

// TestClientReadsForeignErrors: a daemon's non-JSON error
// (a proxy, an older daemon) is still an *ipc.Error with its status, and
// matches no sentinel.
func TestClientReadsForeignErrors(t *testing.T) {
	sock := shortDir(t) + "/foreign.sock"
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream broke", http.StatusBadGateway)
	})}
	go func() { _ = hs.Serve(l) }()
	t.Cleanup(func() { _ = hs.Close() })
	c := ipc.NewClient(sock, 2*time.Second)
	defer c.Close()
	_, err = c.Resolve(t.Context(), credstore.Request{})
	var ie *ipc.Error
	if !errors.As(err, &ie) || ie.Status != 502 || ie.Code != ipc.CodeInternal {
		t.Fatalf("foreign error: %#v", err)
	}
	for _, sen := range allSentinels {
		if errors.Is(err, sen) {
			t.Errorf("a 502 matches %q", sen)
		}
	}
}
