package cli

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/internal/audit"
	"github.com/torale-ai/torale-cred/internal/peer"
	"github.com/torale-ai/torale-cred/internal/testkeyring"
	"github.com/torale-ai/torale-cred/internal/toraleapi"
	"github.com/torale-ai/torale-cred/internal/toraleapi/fakeapi"
)

// rotateEnv is one user's world for the CLI: its own HOME, state dir and
// keychain service on the real test Secret Service, the daemon out of the
// way, and the Torale API at apiURL.
type rotateEnv struct {
	t        *testing.T
	env      map[string]string
	keychain *keychain.Keychain
	state    credstore.StateFile
}

func newRotateEnv(t *testing.T, apiURL string) *rotateEnv {
	t.Helper()
	testkeyring.Require(t)
	home := t.TempDir()
	svc := testkeyring.Service()
	e := &rotateEnv{t: t, env: map[string]string{
		"HOME":                         home,
		"TORALE_CRED_STATE_DIR":        filepath.Join(home, "state"),
		"TORALE_CONFIG":                filepath.Join(home, ".torale", "config.json"),
		"TORALE_CRED_SOCKET":           filepath.Join(home, "cred.sock"),
		"TORALE_CRED_NO_DAEMON":        "1",
		"TORALE_CRED_KEYCHAIN_SERVICE": svc,
		"TORALE_API_URL":               apiURL,
	}}
	e.keychain = keychain.New(keychain.WithService(svc))
	e.state = credstore.StateFile{Dir: e.env["TORALE_CRED_STATE_DIR"]}
	t.Cleanup(func() { _ = e.keychain.Delete(context.Background(), "default") })
	return e
}

func (e *rotateEnv) getenv(k string) string { return e.env[k] }

// login stores key as `torale-cred login` would.
func (e *rotateEnv) login(key string) {
	e.t.Helper()
	st := &credstore.Store{Keychain: e.keychain, StateFile: e.state}
	if _, err := st.Put(context.Background(), "default", key, credstore.PutOptions{Source: credstore.SourceLogin}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *rotateEnv) run(ctx context.Context, ios *IOStreams, args ...string) int {
	return Run(ctx, args, ios, e.getenv)
}

// stored is what the keychain holds for "default".
func (e *rotateEnv) stored() string {
	e.t.Helper()
	k, err := e.keychain.Get(context.Background(), "default")
	if err != nil {
		e.t.Fatalf("reading the keychain: %v", err)
	}
	return k
}

func (e *rotateEnv) stateBytes() []byte {
	b, err := os.ReadFile(e.state.Path())
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// unchanged checks the keychain, the metadata and the server after a
// failure: the old key stored and active, nothing else active.
func (e *rotateEnv) unchanged(api *fakeapi.Server, old string, stateBefore []byte) {
	e.t.Helper()
	if got := e.stored(); got != old {
		e.t.Fatalf("keychain holds %s, want the old key %s", apikey.Hint(got), apikey.Hint(old))
	}
	if after := e.stateBytes(); !bytes.Equal(after, stateBefore) {
		e.t.Fatalf("state.json changed:\n%s\nwas:\n%s", after, stateBefore)
	}
	if api == nil {
		return
	}
	if !api.Active(old) {
		e.t.Fatal("the old key was revoked")
	}
	for _, k := range api.Keys() {
		if k.Active && k.Name != "burst" && !apikey.MatchesServerPrefix(old, k.Prefix) {
			e.t.Fatalf("an extra key %s (%q) is left active on the server", k.Hint, k.Name)
		}
	}
}

func noKeys(t *testing.T, out string, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if k != "" && strings.Contains(out, k) {
			t.Fatalf("output shows a key:\n%s", out)
		}
	}
}

var created = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestRotateDocumented(t *testing.T) {
	api := fakeapi.New(t, fakeapi.Documented)
	old, oldID := api.AddKey("CLI Key", created)
	e := newRotateEnv(t, api.URL)
	e.login(old)

	ios, out, errOut := Test("")
	if code := e.run(context.Background(), ios, "rotate"); code != 0 {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
	newKey := e.stored()
	if newKey == old || !apikey.Valid(newKey) {
		t.Fatalf("keychain holds %s after rotate", apikey.Hint(newKey))
	}
	if out.Len() != 0 {
		t.Fatalf("stdout: %q", out)
	}
	noKeys(t, errOut.String(), old, newKey)
	for _, want := range []string{"✓ the stored key works (user@example.com)", `"CLI Key", id ` + oldID, "✓ created a new key " + apikey.Hint(newKey),
		"✓ the new key works", "read it back", "✓ revoked the old key " + apikey.Hint(old), "Rotated profile \"default\""} {
		if !strings.Contains(errOut.String(), want) {
			t.Fatalf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if api.Active(old) || !api.Active(newKey) {
		t.Fatalf("server: old active %v, new active %v", api.Active(old), api.Active(newKey))
	}
	s, err := e.state.Load()
	if err != nil {
		t.Fatal(err)
	}
	p := s.Profiles["default"]
	if p.Source != credstore.SourceRotate || p.KeyHint != apikey.Hint(newKey) || p.PreviousKeyHint != apikey.Hint(old) ||
		p.CreatedAt == nil || p.KeyID == nil || p.LastRemindedAt != nil {
		t.Fatalf("metadata after rotate: %+v", p)
	}
	var rec fakeapi.Record
	for _, k := range api.Keys() {
		if k.ID == *p.KeyID {
			rec = k
		}
	}
	if !rec.CreatedAt.Equal(*p.CreatedAt) || !strings.HasPrefix(rec.Name, "CLI Key (rotated ") {
		t.Fatalf("server record %+v vs metadata created_at %v", rec, p.CreatedAt)
	}

	// Rotating again names the key after the original, not "(rotated) (rotated)".
	ios, _, errOut = Test("")
	if code := e.run(context.Background(), ios, "rotate"); code != 0 {
		t.Fatalf("second rotate: exit %d:\n%s", code, errOut)
	}
	for _, k := range api.Keys() {
		if strings.Count(k.Name, "rotated") > 1 {
			t.Fatalf("name grew: %q", k.Name)
		}
	}
}

func TestRotateLiveOneKeyRule(t *testing.T) {
	api := fakeapi.New(t, fakeapi.Live)
	old, _ := api.AddKey("CLI Key", created)
	e := newRotateEnv(t, api.URL)
	e.login(old)
	before := e.stateBytes()

	ios, out, errOut := Test("")
	if code := e.run(context.Background(), ios, "rotate"); code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, errOut)
	}
	e.unchanged(api, old, before)
	t.Logf("stderr:\n%s", errOut)
	if out.Len() != 0 {
		t.Fatalf("stdout: %q", out)
	}
	noKeys(t, errOut.String(), old)
	for _, want := range []string{"allows one active key per account", "nothing was changed",
		"API Keys page of your Torale server (" + api.URL + "), revoke " + apikey.Hint(old) + ` ("CLI Key")`, "torale-cred login --profile default"} {
		if !strings.Contains(errOut.String(), want) {
			t.Fatalf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut.String(), "paste") {
		t.Fatalf("asked a question without a terminal:\n%s", errOut)
	}
	if n := api.Count("DELETE", "/auth/api-keys/*"); n != 0 {
		t.Fatalf("%d revokes", n)
	}
}

// TestRotateLivePaste: at a terminal, the user follows the guidance in the
// dashboard and pastes the new key.
func TestRotateLivePaste(t *testing.T) {
	api := fakeapi.New(t, fakeapi.Live)
	old, oldID := api.AddKey("CLI Key", created)
	e := newRotateEnv(t, api.URL)
	e.login(old)
	before := e.stateBytes()

	// Enter alone: stop, nothing changed.
	ios, _, errOut := Test("")
	ios.StdinTTY = true
	ios.ReadSecret = func(context.Context) ([]byte, error) { return []byte(""), nil }
	if code := e.run(context.Background(), ios, "rotate"); code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, errOut)
	}
	e.unchanged(api, old, before)

	// The stored key pasted again: refused.
	ios.ReadSecret = func(context.Context) ([]byte, error) { return []byte(old), nil }
	ios.ErrOut = &bytes.Buffer{}
	if code := e.run(context.Background(), ios, "rotate"); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	e.unchanged(api, old, before)

	var newKey string
	ios.ReadSecret = func(context.Context) ([]byte, error) {
		// What the user does in the dashboard meanwhile.
		if err := toraleapi.New(api.URL, old).RevokeKey(context.Background(), oldID); err != nil {
			t.Error(err)
		}
		newKey, _ = api.AddKey("CLI Key 2", created.Add(time.Hour))
		return []byte("  " + newKey + "\n"), nil
	}
	buf := &bytes.Buffer{}
	ios.ErrOut = buf
	if code := e.run(context.Background(), ios, "rotate"); code != 0 {
		t.Fatalf("exit %d:\n%s", code, buf)
	}
	if got := e.stored(); got != newKey {
		t.Fatalf("keychain holds %s, want the pasted %s", apikey.Hint(got), apikey.Hint(newKey))
	}
	noKeys(t, buf.String(), old, newKey)
	s, _ := e.state.Load()
	p := s.Profiles["default"]
	if p.Source != credstore.SourceRotate || p.CreatedAt == nil || !p.CreatedAt.Equal(created.Add(time.Hour)) || p.KeyID == nil {
		t.Fatalf("metadata: %+v", p)
	}
}

// expiring is a context whose deadline passes when the test says so
// (Err is then DeadlineExceeded), not when a clock does.
type expiring struct {
	context.Context
	done chan struct{}
	once sync.Once
}

func newExpiring() *expiring {
	return &expiring{Context: context.Background(), done: make(chan struct{})}
}

func (e *expiring) Deadline() (time.Time, bool) { return time.Now().Add(time.Hour), true }
func (e *expiring) Done() <-chan struct{}       { return e.done }
func (e *expiring) expire()                     { e.once.Do(func() { close(e.done) }) }
func (e *expiring) Err() error {
	select {
	case <-e.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

func TestRotateFailuresChangeNothing(t *testing.T) {
	type tc struct {
		name  string
		mode  fakeapi.Mode
		setup func(api *fakeapi.Server, old string)
		// expireOn: the command's deadline passes once the API has this
		// request ("METHOD /path"), which hangs until then.
		expireOn string
		want     []string
	}
	cases := []tc{
		{name: "401 stored key revoked", setup: func(api *fakeapi.Server, old string) {
			for _, k := range api.Keys() {
				_ = toraleapi.New(api.URL, old).RevokeKey(context.Background(), k.ID)
			}
		}, want: []string{"refused the stored key", "401 Invalid API key", "torale-cred login --profile default"}},
		{name: "429 rate limit", setup: func(api *fakeapi.Server, old string) {
			c := toraleapi.New(api.URL, old)
			for range 3 {
				if _, err := c.CreateKey(context.Background(), "burst"); err != nil {
					panic(err)
				}
			}
		}, want: []string{"rate limiting", "nothing was changed", "try again in "}},
		{name: "429 injected with Retry-After", setup: func(api *fakeapi.Server, _ string) {
			api.Inject(fakeapi.Fault{Method: "POST", Path: "/auth/api-keys", Status: 429, RetryAfter: 42, Detail: "Rate limit exceeded"})
		}, want: []string{"try again in 42 seconds"}},
		{name: "503 on create", mode: fakeapi.Live, setup: func(api *fakeapi.Server, _ string) {
			api.Inject(fakeapi.Fault{Method: "POST", Path: "/auth/api-keys", Status: 503, Detail: "maintenance"})
		}, want: []string{"failed while creating the new key (503 maintenance)", "try again later"}},
		{name: "500 on the first check", setup: func(api *fakeapi.Server, _ string) {
			api.Inject(fakeapi.Fault{Path: "/auth/me", Status: 500})
		}, want: []string{"failed while checking the stored key (500"}},
		{name: "hang-up on list", setup: func(api *fakeapi.Server, _ string) {
			// Go's transport retries an idempotent request once on a
			// reused connection that drops: hang up on every try.
			api.Inject(fakeapi.Fault{Method: "GET", Path: "/auth/api-keys", Hangup: true, Times: 5})
		}, want: []string{"listing your keys", "cannot reach the Torale API at", "check the network"}},
		{name: "timeout on create", expireOn: "POST /auth/api-keys", setup: func(api *fakeapi.Server, _ string) {
			api.Inject(fakeapi.Fault{Method: "POST", Path: "/auth/api-keys", Delay: time.Hour})
		}, want: []string{"creating the new key", "did not answer in time", "nothing was changed"}},
		{name: "new key fails its check", setup: func(api *fakeapi.Server, _ string) {
			api.Inject(fakeapi.Fault{Path: "/auth/me", After: 1, Status: 500})
		}, want: []string{"the new key", "did not work", "revoked the unused new key", "still stored and works"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			api := fakeapi.New(t, c.mode)
			old, _ := api.AddKey("CLI Key", created)
			e := newRotateEnv(t, api.URL)
			e.login(old)
			before := e.stateBytes()
			c.setup(api, old)
			ctx := context.Background()
			if c.expireOn != "" {
				// Not a timer: on a loaded machine the steps before could
				// use it up, and the deadline would pass somewhere else.
				ectx := newExpiring()
				defer ectx.expire()
				method, path, _ := strings.Cut(c.expireOn, " ")
				go func() {
					for api.Count(method, path) == 0 {
						select {
						case <-ectx.Done():
							return
						case <-time.After(time.Millisecond):
						}
					}
					ectx.expire()
				}()
				ctx = ectx
			}
			ios, out, errOut := Test("")
			if code := e.run(ctx, ios, "rotate"); code != 1 {
				t.Fatalf("exit %d, want 1:\n%s", code, errOut)
			}
			t.Logf("stderr:\n%s", errOut)
			if out.Len() != 0 {
				t.Fatalf("stdout: %q", out)
			}
			noKeys(t, errOut.String(), old)
			for _, w := range c.want {
				if !strings.Contains(errOut.String(), w) {
					t.Fatalf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			if c.name == "401 stored key revoked" {
				if got := e.stored(); got != old {
					t.Fatal("keychain changed")
				}
				return
			}
			// (A delayed handler whose client left returns without a change.)
			e.unchanged(api, old, before)
		})
	}
}

func TestRotateNoNetwork(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close()
	e := newRotateEnv(t, url)
	old := "sk_abc123def456ghi789jkl012mno345pqRST"
	e.login(old)
	before := e.stateBytes()
	ios, _, errOut := Test("")
	if code := e.run(context.Background(), ios, "rotate"); code != 1 {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
	if lines := strings.Count(strings.TrimSpace(errOut.String()), "\n"); lines != 1 {
		t.Fatalf("want the header and one sentence, got:\n%s", errOut)
	}
	if !strings.Contains(errOut.String(), "cannot reach the Torale API at "+url) || !strings.Contains(errOut.String(), "nothing was changed") {
		t.Fatalf("stderr:\n%s", errOut)
	}
	e.unchanged(nil, old, before)
}

func TestRotateRevokeOldFails(t *testing.T) {
	api := fakeapi.New(t, fakeapi.Documented)
	old, _ := api.AddKey("CLI Key", created)
	e := newRotateEnv(t, api.URL)
	e.login(old)
	api.Inject(fakeapi.Fault{Method: "DELETE", Path: "/auth/api-keys/*", Status: 503})
	ios, _, errOut := Test("")
	if code := e.run(context.Background(), ios, "rotate"); code != 1 {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
	t.Logf("stderr:\n%s", errOut)
	newKey := e.stored()
	if newKey == old || !api.Active(newKey) || !api.Active(old) {
		t.Fatalf("keychain %s; server new active %v old active %v", apikey.Hint(newKey), api.Active(newKey), api.Active(old))
	}
	noKeys(t, errOut.String(), old, newKey)
	for _, w := range []string{"the new key " + apikey.Hint(newKey) + " is stored and works", "revoking the old key " + apikey.Hint(old) + " failed",
		"nothing is lost", "API Keys page of your Torale server"} {
		if !strings.Contains(errOut.String(), w) {
			t.Fatalf("stderr lacks %q:\n%s", w, errOut)
		}
	}
}

// TestRotateStoreFailsPutsOldBack: the keychain takes the new key but the
// metadata cannot be written; rotate puts the old key back and revokes
// the new one.
func TestRotateStoreFailsPutsOldBack(t *testing.T) {
	api := fakeapi.New(t, fakeapi.Documented)
	old, _ := api.AddKey("CLI Key", created)
	e := newRotateEnv(t, api.URL)
	e.login(old)
	before := e.stateBytes()
	lock := filepath.Join(e.state.Dir, "state.lock")
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(lock, 0o700); err != nil { // no update can take its lock now
		t.Fatal(err)
	}
	ios, _, errOut := Test("")
	if code := e.run(context.Background(), ios, "rotate"); code != 1 {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
	for _, w := range []string{"storing the new key failed", "revoked the unused new key", "still stored and works"} {
		if !strings.Contains(errOut.String(), w) {
			t.Fatalf("stderr lacks %q:\n%s", w, errOut)
		}
	}
	e.unchanged(api, old, before)
}

func TestRotateNoStoredKey(t *testing.T) {
	api := fakeapi.New(t, fakeapi.Documented)
	e := newRotateEnv(t, api.URL)
	ios, _, errOut := Test("")
	if code := e.run(context.Background(), ios, "rotate"); code != ExitNoKey {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
	if !strings.Contains(errOut.String(), "torale-cred login") || len(api.Requests()) != 0 {
		t.Fatalf("stderr %q, requests %v", errOut, api.Requests())
	}
}

func TestTokenRotationHint(t *testing.T) {
	e := newRotateEnv(t, "http://127.0.0.1:1")
	key := "sk_abc123def456ghi789jkl012mno345pqRST"
	e.login(key)
	age := func(days int) {
		stored := time.Now().Add(-time.Duration(days) * 24 * time.Hour)
		if err := e.state.Update(func(s *credstore.State) error { s.Profiles["default"].StoredAt = stored; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	token := func(args ...string) (string, string) {
		t.Helper()
		ios, out, errOut := Test("")
		if code := e.run(context.Background(), ios, append([]string{"token"}, args...)...); code != 0 {
			t.Fatalf("token: exit %d: %s", code, errOut)
		}
		if out.String() != key+"\n" {
			t.Fatalf("stdout = %q", out)
		}
		return out.String(), errOut.String()
	}
	age(30)
	if _, stderr := token(); stderr != "" {
		t.Fatalf("hint for a 30-day-old key: %q", stderr)
	}
	age(100)
	_, stderr := token()
	if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, `the key sk_...pqRST for profile "default" is 100 days old`) ||
		!strings.Contains(stderr, "run: torale-cred rotate --profile default") {
		t.Fatalf("hint = %q", stderr)
	}
	if _, stderr := token("--rotate-after", "120d"); stderr != "" {
		t.Fatalf("hint with --rotate-after 120d: %q", stderr)
	}
	age(70)
	e.env["TORALE_CRED_ROTATE_AFTER"] = "60d"
	if _, stderr := token(); !strings.Contains(stderr, "70 days old") {
		t.Fatalf("no hint with TORALE_CRED_ROTATE_AFTER=60d: %q", stderr)
	}
	delete(e.env, "TORALE_CRED_ROTATE_AFTER")
	// A key from the environment is not ours to nag about.
	age(100)
	e.env["TORALE_API_KEY"] = "sk_ENVenvENVenvENVenvENVenvENVenv1234"
	ios, out, errOut := Test("")
	if code := e.run(context.Background(), ios, "token"); code != 0 || errOut.Len() != 0 || !strings.HasPrefix(out.String(), "sk_ENV") {
		t.Fatalf("env key: exit %d, stderr %q", code, errOut)
	}
}

func TestParsePeriod(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"90d": 90 * 24 * time.Hour, "60d": 60 * 24 * time.Hour, "7": 7 * 24 * time.Hour,
		"36h": 36 * time.Hour, "1m": time.Minute, " 30d ": 30 * 24 * time.Hour,
	} {
		got, err := parsePeriod(in)
		if err != nil || got != want {
			t.Errorf("parsePeriod(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0d", "-5d", "d", "abc", "10s", "3651d", "1.5d", "99999999999999d"} {
		if _, err := parsePeriod(in); err == nil {
			t.Errorf("parsePeriod(%q) accepted", in)
		}
	}
}

// One rule for --rotate-after and TORALE_CRED_ROTATE_AFTER: a bad value of
// either is a usage error that names the allowed range.
func TestRotateAfterFlagAndEnv(t *testing.T) {
	f := NewFactory(&IOStreams{ErrOut: &bytes.Buffer{}}, func(k string) string {
		if k == "TORALE_CRED_ROTATE_AFTER" {
			return "soon"
		}
		return ""
	})
	if _, err := f.rotationPeriod(); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "between 1m and 3650d") {
		t.Fatalf("bad env: %v", err)
	}
	if err := f.RotateAfter.Set("60d"); err != nil {
		t.Fatal(err)
	}
	if d, err := f.rotationPeriod(); err != nil || d != 60*24*time.Hour {
		t.Fatalf("flag: %v, %v", d, err)
	}
	if err := f.RotateAfter.Set("soon"); err == nil || !strings.Contains(err.Error(), "between 1m and 3650d") {
		t.Fatalf("bad flag: %v", err)
	}
	ios, _, errOut := Test("")
	if code := Run(context.Background(), []string{"token", "--rotate-after", "soon"}, ios, func(string) string { return "" }); code != ExitUsage {
		t.Fatalf("bad flag: exit %d: %s", code, errOut)
	}
}

// FuzzParsePeriod: any accepted period is within bounds and prints back
// as a period that parses to the same value.
func FuzzParsePeriod(f *testing.F) {
	for _, s := range []string{"90d", "60", "36h", "1m", "3650d", "0d", "-1h", "1e9d", "9223372036854775807d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parsePeriod(s)
		if err != nil {
			return
		}
		if d < minPeriod || d > maxPeriod {
			t.Fatalf("parsePeriod(%q) = %v, out of bounds", s, d)
		}
		back, err := parsePeriod(fmtPeriod(d))
		if err != nil || back != d {
			t.Fatalf("round trip of %q: %v -> %q -> %v, %v", s, d, fmtPeriod(d), back, err)
		}
	})
}

// Before it revokes the old key, rotate names the programs that used it
// lately, from the audit trail, and no other key's.
func TestRotateSaysWhoUsedTheKey(t *testing.T) {
	api := fakeapi.New(t, fakeapi.Documented)
	old, _ := api.AddKey("CLI Key", created)
	e := newRotateEnv(t, api.URL)
	e.login(old)
	now := time.Now()
	for _, ev := range []audit.Event{
		{Time: now.Add(-time.Hour), Profile: "default", KeyHint: apikey.Hint(old), Door: "socket", Result: "ok", Caller: &peer.Caller{PID: 5, Exe: "/usr/bin/curl"}},
		{Time: now.Add(-2 * time.Hour), Profile: "default", KeyHint: apikey.Hint(old), Door: "socket", Result: "ok", Caller: &peer.Caller{PID: 6, Exe: "/usr/bin/python3", Unit: "backup.service"}},
		{Time: now.Add(-3 * time.Hour), Profile: "default", KeyHint: apikey.Hint(old), Door: "socket", Result: "ok", Caller: &peer.Caller{PID: 7, Exe: "/usr/bin/curl"}},
		{Time: now.Add(-40 * 24 * time.Hour), Profile: "default", KeyHint: apikey.Hint(old), Door: "socket", Result: "ok", Caller: &peer.Caller{PID: 8, Exe: "/opt/old"}},
		{Time: now.Add(-time.Hour), Profile: "default", KeyHint: "sk_...other", Door: "socket", Result: "ok", Caller: &peer.Caller{PID: 9, Exe: "/opt/other"}},
	} {
		if _, err := audit.Append(e.state.Dir, 0, ev); err != nil {
			t.Fatal(err)
		}
	}
	ios, _, errOut := Test("")
	if code := e.run(context.Background(), ios, "rotate"); code != 0 {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
	out := errOut.String()
	used := strings.Index(out, "these 2 programs used "+apikey.Hint(old)+" in the last 30 days")
	revoked := strings.Index(out, "✓ revoked the old key")
	if used < 0 || revoked < used || !strings.Contains(out, "/usr/bin/curl, 2 times") ||
		!strings.Contains(out, "/usr/bin/python3 in backup.service, once") || strings.Contains(out, "/opt/") {
		t.Fatalf("stderr does not name the programs before revoking:\n%s", out)
	}
}
