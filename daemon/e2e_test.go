package daemon_test

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/internal/proctest"
	"github.com/torale-ai/torale-cred/internal/testkeyring"
	"github.com/torale-ai/torale-cred/ipc"
)

const (
	keyStored = "sk_STOREDstoredSTOREDstoredSTORED0001"
	keyConfig = "sk_CONFIGconfigCONFIGconfigCONFIG0002"
	keyEnv    = "sk_ENVenvENVenvENVenvENVenvENVenv0003"
	keyFlag   = "sk_FLAGflagFLAGflagFLAGflagFLAGflag04"
)

// TestPrecedenceOverTheWire walks every row of SPEC.md's two orders
// against a daemon process on the real Secret Service, and checks each
// answer against the local resolver over the same keychain and files.
func TestPrecedenceOverTheWire(t *testing.T) {
	t.Parallel()
	testkeyring.Require(t)
	w := proctest.NewWorld(t)
	writeFile(t, w.Config, `{"api_key":"`+keyConfig+`","api_url":"https://config.example","other":[1,2]}`)
	// --no-watch keeps the plaintext tier in place: the watcher would move
	// it into the keychain (its own tests cover that).
	w.Daemon(t, nil, "--no-watch")
	c := newClient(w.Sock)
	defer c.Close()
	ctx := t.Context()

	// Stored through the daemon (the CLI's login writes through it).
	if _, errOut, code := w.CLI(t, keyStored+"\n", nil, "login", "--api-url", "https://profile.example"); code != 0 {
		t.Fatalf("login: %d %s", code, errOut)
	}
	local := w.Store()

	type row struct {
		name         string
		req          credstore.Request
		key, keySrc  string
		url, urlSrc  string
		noauth       bool
		wantNotFound bool
		before       func()
	}
	base := func(mut func(*credstore.Request)) credstore.Request {
		r := credstore.Request{Profile: "default"}
		if mut != nil {
			mut(&r)
		}
		return r
	}
	all := func(r *credstore.Request) {
		r.FlagKey, r.FlagURL = keyFlag, "https://flag.example"
		r.Env = credstore.Env{APIKey: keyEnv, APIURL: "https://env.example", Dev: "1", NoAuth: "1"}
	}
	setConfig := func(s string) func() {
		return func() { writeFile(t, w.Config, s) }
	}
	rows := []row{
		// Key order: flag > env > keychain > config > none.
		{name: "flag beats all", req: base(all), key: keyFlag, keySrc: "flag", url: "https://flag.example", urlSrc: "flag", noauth: true},
		{name: "env beats stored", req: base(func(r *credstore.Request) { all(r); r.FlagKey, r.FlagURL = "", "" }), key: keyEnv, keySrc: "env", url: "https://env.example", urlSrc: "env", noauth: true},
		{name: "dev mode URL", req: base(func(r *credstore.Request) { r.Env.Dev = "1" }), key: keyStored, keySrc: "keychain", url: credstore.DevAPIURL, urlSrc: "dev"},
		{name: "noauth URL, stored key still served", req: base(func(r *credstore.Request) { r.Env.NoAuth = "1" }), key: keyStored, keySrc: "keychain", url: credstore.DevAPIURL, urlSrc: "dev", noauth: true},
		{name: "TORALE_DEV=true is not dev mode", req: base(func(r *credstore.Request) { r.Env.Dev = "true" }), key: keyStored, keySrc: "keychain", url: "https://config.example", urlSrc: "config"},
		{name: "keychain beats config", req: base(nil), key: keyStored, keySrc: "keychain", url: "https://config.example", urlSrc: "config"},
		// Written after the stored key: the key a watching daemon would
		// store next, so it is served already (this daemon runs --no-watch).
		{name: "profile URL when config has none; its newer key wins", before: setConfig(`{"api_key":"` + keyConfig + `"}`), req: base(nil), key: keyConfig, keySrc: "config", url: "https://profile.example", urlSrc: "profile"},
		{name: "config key when the keychain has none", before: func() {
			if _, e, code := w.CLI(t, "", nil, "logout"); code != 0 {
				t.Fatalf("logout: %d %s", code, e)
			}
		}, req: base(nil), key: keyConfig, keySrc: "config", url: credstore.DefaultAPIURL, urlSrc: "default"},
		{name: "config belongs to the daemon's profile only", req: base(func(r *credstore.Request) { r.Profile = "work" }), wantNotFound: true},
		{name: "none", before: setConfig(`{"other":true}`), req: base(nil), wantNotFound: true},
		{name: "none with TORALE_NOAUTH=1", req: base(func(r *credstore.Request) { r.Env.NoAuth = "1" }), key: "", keySrc: "none", url: credstore.DevAPIURL, urlSrc: "dev", noauth: true},
		{name: "env key with nothing stored", req: base(func(r *credstore.Request) { r.Env.APIKey = keyEnv }), key: keyEnv, keySrc: "env", url: credstore.DefaultAPIURL, urlSrc: "default"},
	}
	for _, r := range rows {
		if r.before != nil {
			r.before()
		}
		check := func() error {
			got, err := c.Resolve(tokenDoor(ctx), r.req)
			lr, lerr := local.Resolve(tokenDoor(ctx), r.req)
			if r.wantNotFound {
				var ie *ipc.Error
				if !errors.As(err, &ie) || ie.Status != 404 || !errors.Is(err, storeerr.ErrNotFound) {
					return fmt.Errorf("daemon: %+v %v, want 404", got, err)
				}
				if !errors.Is(lerr, storeerr.ErrNotFound) {
					return fmt.Errorf("local: %v, want not found", lerr)
				}
				return nil
			}
			if err != nil || lerr != nil {
				return fmt.Errorf("daemon err %v, local err %v", err, lerr)
			}
			// The rotation status is the stored key's, whoever answers.
			if !sameRotation(got.Rotation, lr.Rotation) {
				return fmt.Errorf("rotation: daemon %+v, local %+v", got.Rotation, lr.Rotation)
			}
			got.Rotation, lr.Rotation = nil, nil
			want := credstore.Resolution{Profile: r.req.Profile, Key: r.key, KeySource: r.keySrc, URL: r.url, URLSource: r.urlSrc, NoAuth: r.noauth}
			if r.key != "" {
				want.KeyHint = apikey.Hint(r.key)
			}
			if got != want {
				return fmt.Errorf("daemon %+v, want %+v", got, want)
			}
			lr.KeychainProblem = ""
			if lr != want {
				return fmt.Errorf("local %+v, want %+v", lr, want)
			}
			return nil
		}
		// config.json is re-read when its stat changes (within FilePoll).
		eventually(t, r.name, check)
	}
}

func sameRotation(a, b *credstore.Rotation) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.AgeDays == b.AgeDays && a.Due == b.Due && a.DueAt.Equal(b.DueAt)
}

// TestErrorStatusesOverTheSocket drives the daemon process with curl,
// as a script in another language would.
func TestErrorStatusesOverTheSocket(t *testing.T) {
	t.Parallel()
	testkeyring.Require(t)
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	w := proctest.NewWorld(t)
	w.Daemon(t, nil)
	big := filepath.Join(t.TempDir(), "big.json")
	writeFile(t, big, `{"env":{"X":"`+strings.Repeat("a", 70000)+`"}}`)
	cases := []struct {
		args []string
		code string
		body string
	}{
		{[]string{"http://torale/v1/health"}, "200", `"keychain":"ok"`},
		{[]string{"-d", "{}", "http://torale/v1/resolve"}, "404", `"error":"not_found"`},
		{[]string{"-d", `{"env":{"TORALE_NOAUTH":"1"}}`, "http://torale/v1/resolve"}, "200", `"noauth":true`},
		{[]string{"-d", "{nope", "http://torale/v1/resolve"}, "400", `"error":"bad_request"`},
		{[]string{"-X", "PUT", "-d", `{"api_key":"sk_nope"}`, "http://torale/v1/credentials/default"}, "400", `"error":"bad_key"`},
		{[]string{"-d", "@" + big, "http://torale/v1/resolve"}, "413", `"error":"too_large"`},
		{[]string{"-X", "PATCH", "http://torale/v1/resolve"}, "405", `"error":"method_not_allowed"`},
		{[]string{"-X", "PUT", "-d", `{"api_key":"` + keyStored + `"}`, "http://torale/v1/credentials/default"}, "200", `"key_hint":"sk_...D0001"`},
		{[]string{"-d", "{}", "http://torale/v1/resolve"}, "200", `"api_key":"` + keyStored + `"`},
		{[]string{"http://torale/v1/credentials"}, "200", `"profiles":[{"profile":"default"`},
		{[]string{"-X", "DELETE", "http://torale/v1/credentials/default"}, "200", `"deleted":true`},
		{[]string{"http://torale/v1/credentials/default"}, "404", `"error":"not_found"`},
	}
	for _, c := range cases {
		args := append([]string{"-sS", "--max-time", strconv.Itoa(int(patience.Seconds())), "--unix-socket", w.Sock, "-w", "\n%{http_code}"}, c.args...)
		out, err := exec.Command(curl, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %v: %v %s", c.args, err, out)
		}
		s := string(out)
		i := strings.LastIndex(s, "\n")
		if s[i+1:] != c.code || !strings.Contains(s[:i], c.body) {
			t.Errorf("curl %v = %s, want %s with %s", c.args, s, c.code, c.body)
		}
	}
}

// held is a connection whose closing the test notices: a reader takes
// whatever the daemon sends until it hangs up.
type held struct {
	conn net.Conn
	gone chan struct{} // closed when the daemon closed the connection
	got  []byte        // what it sent first (valid once gone)
	err  error         // how the read ended (valid once gone)
}

func hold(c net.Conn) *held {
	h := &held{conn: c, gone: make(chan struct{})}
	go func() {
		defer close(h.gone)
		_ = c.SetReadDeadline(time.Now().Add(patience))
		buf := make([]byte, 512)
		n, err := c.Read(buf)
		h.got, h.err = buf[:n], err
	}()
	return h
}

func (h *held) open() bool {
	select {
	case <-h.gone:
		return false
	default:
		return true
	}
}

// TestHostileClientsDoNotWedgeTheDaemon: garbage, a half-sent request and
// a silent connection, all at once; others are still answered while the
// daemon still holds them (answered only once it dropped them would be
// wedged). The daemon drops the silent one after its header timeout
// (5 s); should a loaded machine take that long, a fresh pair is opened,
// so each answer is checked against hostile connections it had to serve
// beside, never against a clock.
func TestHostileClientsDoNotWedgeTheDaemon(t *testing.T) {
	t.Parallel()
	w := proctest.NewWorld(t)
	w.Daemon(t, nil)
	hostile := func() (silent, half *held) {
		silent = hold(dialRaw(t, w.Sock))
		hc := dialRaw(t, w.Sock)
		if _, err := hc.Write([]byte("POST /v1/resolve HTTP/1.1\r\nHost: torale\r\nContent-Length: 50\r\n\r\n{\"pro")); err != nil {
			t.Fatal(err)
		}
		return silent, hold(hc)
	}
	silent, half := hostile()
	garbage := hold(dialRaw(t, w.Sock))
	if _, err := garbage.conn.Write([]byte("\x00\xff\xfe GET / HTTP/9.9\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	<-garbage.gone
	if !strings.HasPrefix(string(garbage.got), "HTTP/1.1 400") {
		t.Errorf("garbage answered %q (%v)", garbage.got, garbage.err)
	}
	c := newClient(w.Sock)
	defer c.Close()
	for answered, dropped := 0, 0; answered < 20; {
		if !silent.open() || !half.open() {
			silent, half = hostile()
		}
		s, h := silent, half
		if _, err := c.Info(t.Context()); err != nil {
			t.Fatalf("health while hostile clients hold connections: %v", err)
		}
		if s.open() && h.open() {
			answered, dropped = answered+1, 0
			continue
		}
		// One was dropped while health was being answered: the daemon
		// waited for that (wedged), or this machine took the header
		// timeout to answer. Again with a fresh pair: a wedged daemon
		// does it every time.
		if dropped++; dropped == 3 {
			t.Fatal("health answered only once the daemon had dropped a hostile connection, three times running")
		}
	}
	// The silent client is eventually dropped by the header timeout.
	<-silent.gone
	if len(silent.got) > 0 {
		t.Errorf("a silent client got bytes: %q", silent.got)
	} else if ne, ok := silent.err.(net.Error); ok && ne.Timeout() {
		t.Errorf("a silent client was never dropped (waited %s)", patience)
	}
}

// TestOneDaemonPerSocket: a second daemon refuses and leaves the first
// alone; a crashed daemon's stale socket is replaced; a clean stop removes
// the socket it created.
func TestOneDaemonPerSocket(t *testing.T) {
	t.Parallel()
	w := proctest.NewWorld(t)
	first := w.Daemon(t, nil)
	fi1, err := os.Lstat(w.Sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi1.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v", fi1.Mode().Perm())
	}
	if di, _ := os.Lstat(filepath.Dir(w.Sock)); di.Mode().Perm() != 0o700 {
		t.Errorf("socket dir mode %v", di.Mode().Perm())
	}
	_, errOut, code := w.CLI(t, "", nil, "daemon", "--socket", w.Sock)
	if code != 1 || !strings.Contains(errOut, "already running") {
		t.Fatalf("second daemon: %d %s", code, errOut)
	}
	if fi, err := os.Lstat(w.Sock); err != nil || !os.SameFile(fi, fi1) {
		t.Fatal("the second daemon touched the first one's socket")
	}
	proctest.WaitHealthy(t, w.Sock, first)

	// Crash: SIGKILL leaves the socket file behind.
	first.Cmd.Process.Kill()
	<-first.Done
	first.Done <- nil
	if _, err := os.Lstat(w.Sock); err != nil {
		t.Fatalf("expected a stale socket: %v", err)
	}
	// Serving at all means the stale file was removed: bind fails on an
	// existing path. (Inode numbers are reused, so they prove nothing.)
	second := w.Daemon(t, nil)
	// Graceful stop: exit 0, socket removed.
	if err := second.Stop(t); err != nil {
		t.Fatalf("SIGTERM: %v: %s", err, second.Stderr.String())
	}
	if _, err := os.Lstat(w.Sock); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("socket left after a clean stop: %v", err)
	}
	if !strings.Contains(second.Stderr.String(), "stopped") {
		t.Errorf("no stop logged: %s", second.Stderr.String())
	}
}

// TestCLIUsesTheDaemonAndFallsBack: token and status give the same answer
// with and without the daemon; status says which answered.
func TestCLIUsesTheDaemonAndFallsBack(t *testing.T) {
	t.Parallel()
	testkeyring.Require(t)
	w := proctest.NewWorld(t)
	p := w.Daemon(t, nil)
	if _, e, code := w.CLI(t, keyStored+"\n", nil, "login"); code != 0 {
		t.Fatalf("login: %s", e)
	}
	// The keychain holds it (written through the daemon).
	if k, err := w.Store().Keychain.Get(t.Context(), "default"); err != nil || k != keyStored {
		t.Fatalf("keychain after login through the daemon: %v", err)
	}
	viaDaemon, _, _ := w.CLI(t, "", nil, "token")
	st, _, _ := w.CLI(t, "", nil, "status", "--json")
	if !strings.Contains(st, `"via": "daemon"`) || !strings.Contains(st, "running on "+w.Sock) {
		t.Errorf("status with the daemon: %s", st)
	}
	direct, _, _ := w.CLI(t, "", []string{"TORALE_CRED_NO_DAEMON=1"}, "token")
	p.Stop(t)
	fallback, _, _ := w.CLI(t, "", nil, "token")
	st, _, _ = w.CLI(t, "", nil, "status", "--json")
	if !strings.Contains(st, `"via": "keychain"`) || !strings.Contains(st, "not running") {
		t.Errorf("status without the daemon: %s", st)
	}
	if viaDaemon != keyStored+"\n" || direct != viaDaemon || fallback != viaDaemon {
		t.Fatalf("answers differ: daemon %q, direct %q, fallback %q", viaDaemon, direct, fallback)
	}
	_, e, code := w.CLI(t, "", nil, "token", "--profile", "nokey")
	w.Daemon(t, nil)
	_, e2, code2 := w.CLI(t, "", nil, "token", "--profile", "nokey")
	if code != 3 || code2 != 3 || e != e2 {
		t.Fatalf("no key: %d %q without, %d %q with the daemon", code, e, code2, e2)
	}
	if _, _, code := w.CLI(t, "", nil, "logout"); code != 0 {
		t.Fatal("logout through the daemon")
	}
	if _, err := w.Store().Keychain.Get(t.Context(), "default"); !errors.Is(err, storeerr.ErrNotFound) {
		t.Fatalf("keychain after logout through the daemon: %v", err)
	}
}

// TestCacheFollowsOtherKeychainWriters: a key changed with another tool
// shows up once the cache's age bound passes (short here).
func TestCacheFollowsOtherKeychainWriters(t *testing.T) {
	t.Parallel()
	testkeyring.Require(t)
	w := proctest.NewWorld(t)
	w.Extra = append(w.Extra, "TORALE_CRED_CACHE_TTL=600ms")
	w.Daemon(t, nil)
	c := newClient(w.Sock)
	defer c.Close()
	ks := w.Store().Keychain
	if err := ks.Set(t.Context(), "default", keyStored); err != nil {
		t.Fatal(err)
	}
	eventually(t, "first key", func() error {
		r, err := c.Resolve(tokenDoor(t.Context()), credstore.Request{Profile: "default"})
		if err != nil || r.Key != keyStored {
			return fmt.Errorf("%+v %v", r, err)
		}
		return nil
	})
	if err := ks.Set(t.Context(), "default", keyEnv); err != nil {
		t.Fatal(err)
	}
	eventually(t, "changed key", func() error {
		r, err := c.Resolve(tokenDoor(t.Context()), credstore.Request{Profile: "default"})
		if err != nil || r.Key != keyEnv {
			return fmt.Errorf("%+v %v", r, err)
		}
		return nil
	})
	_ = ks.Delete(t.Context(), "default")
}
