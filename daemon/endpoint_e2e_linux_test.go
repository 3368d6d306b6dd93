//go:build linux

package daemon_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/internal/audit"
	"github.com/torale-ai/torale-cred/internal/proctest"
	"github.com/torale-ai/torale-cred/internal/testkeyring"
)

// bigAnswer is what the stand-in streams for GET /big.
const bigAnswer = 8 << 20

// standIn is a stand-in Torale API over https that records the key of
// every request it receives.
type standIn struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string // "METHOD PATH KEY"
}

func newStandIn(t *testing.T) *standIn {
	s := &standIn{}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		s.seen = append(s.seen, r.Method+" "+r.URL.Path+" "+key)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "GET" && r.URL.Path == "/auth/me":
			io.WriteString(w, `{"id":"u1","email":"ada@example.com","state":"active"}`)
		case r.Method == "GET" && r.URL.Path == "/big":
			chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096)
			for n := 0; n < bigAnswer; n += len(chunk) {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		default:
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"detail":"Not Found"}`)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *standIn) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

// sdkAnswer is what testdata/sdk/toraleclient.py prints.
type sdkAnswer struct {
	Status  int               `json:"status"`
	Body    string            `json:"body"`
	Environ map[string]string `json:"environ"`
	Argv    []string          `json:"argv"`
}

// runSDK runs the SDK's client resolution, bare, as a user's script: its
// own HOME and PATH, no TORALE_ variable unless extra names one.
func runSDK(t *testing.T, w *proctest.World, extra []string, args ...string) (sdkAnswer, string) {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	script, err := filepath.Abs(filepath.Join("..", "testdata", "sdk", "toraleclient.py"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, append([]string{script}, args...)...)
	cmd.Env = append([]string{"HOME=" + w.Home, "PATH=" + os.Getenv("PATH"), "LANG=C.UTF-8"}, extra...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("the SDK's script: %v\n%s", err, errb.String())
	}
	var a sdkAnswer
	if err := json.Unmarshal(out.Bytes(), &a); err != nil {
		t.Fatalf("the SDK's script printed %q: %v", out.String(), err)
	}
	return a, out.String()
}

// readConfig is config.json's api_key and api_url, and the whole of it.
// waitLocalToken waits until the daemon has put a local token in
// config.json, and returns it with the URL beside it.
func waitLocalToken(t *testing.T, path string) (token, url string) {
	t.Helper()
	eventually(t, "config.json holds a local token", func() error {
		k, u, _ := readConfig(t, path)
		if !credstore.IsLocalToken(k) {
			return errors.New("not yet")
		}
		token, url = k, u
		return nil
	})
	return token, url
}

func readConfig(t *testing.T, path string) (key, url string, all map[string]any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &all); err != nil {
		return "", "", nil // being written
	}
	key, _ = all["api_key"].(string)
	url, _ = all["api_url"].(string)
	return key, url, all
}

// TestEndpointServesTheSDKUnchanged is issue 26's user: the key in
// config.json as Torale's docs say, a real daemon moves it, and the SDK's
// own client code keeps working over https, bare, without ever holding
// the key.
func TestEndpointServesTheSDKUnchanged(t *testing.T) {
	t.Parallel()
	testkeyring.Require(t)
	api := newStandIn(t)
	w := proctest.NewWorld(t)
	certFile := filepath.Join(w.Base, "standin.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: api.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	writeFile(t, w.Config, `{"api_key":"`+keyConfig+`","api_url":"`+api.URL+`","other":[1,2]}`)
	// SSL_CERT_FILE: Go trusts the stand-in's certificate (and only it).
	d := w.Daemon(t, []string{"SSL_CERT_FILE=" + certFile})

	var token, endpointURL string
	eventually(t, "config.json holds a local token and the endpoint's URL", func() error {
		k, u, all := readConfig(t, w.Config)
		if !credstore.IsLocalToken(k) || !strings.HasPrefix(u, "http://127.0.0.1:") {
			return errors.New("not yet")
		}
		if all["other"] == nil {
			t.Fatalf("config.json lost a field: %v", all)
		}
		token, endpointURL = k, u
		return nil
	})

	// The SDK, bare: GET /auth/me through the endpoint, real key added.
	a, raw := runSDK(t, w, nil, "GET", "/auth/me")
	if a.Status != 200 || !strings.Contains(a.Body, "ada@example.com") {
		t.Fatalf("GET /auth/me through the endpoint: %d %s\ndaemon: %s", a.Status, a.Body, d.Stderr.String())
	}
	if strings.Contains(raw, keyConfig) {
		t.Error("the real key reached the SDK's process (environment or argv)")
	}
	if got := api.requests(); len(got) != 1 || got[0] != "GET /auth/me "+keyConfig {
		t.Errorf("the stand-in saw %q, want the real key on GET /auth/me", got)
	}
	noKeyUnder(t, w.Home, keyConfig)

	// The trail names python, door endpoint, and the route.
	eventually(t, "the trail records the endpoint's hand-out to python", func() error {
		for _, e := range trail(t, w) {
			if e.Door == credstore.DoorEndpoint && e.Route == "GET /auth/me" && e.Result == audit.ResultOK &&
				e.Caller != nil && (strings.Contains(e.Caller.Exe, "python") || strings.Contains(e.Caller.Comm, "python")) {
				return nil
			}
		}
		return errors.New("no such line")
	})

	// Refused: no token, a wrong one, a real key, key management. Each is
	// a 401 in Torale's shape and reaches nothing.
	before := len(api.requests())
	c := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 30 * time.Second}
	for _, tc := range []struct{ name, method, path, auth string }{
		{"no token", "GET", "/auth/me", ""},
		{"a wrong token", "GET", "/auth/me", "Bearer " + credstore.LocalTokenPrefix + strings.Repeat("x", 32)},
		{"a real key", "GET", "/auth/me", "Bearer " + keyConfig},
		{"creating a key", "POST", "/auth/api-keys", "Bearer " + token},
		{"revoking a key", "DELETE", "/auth/api-keys/k1", "Bearer " + token},
		{"a path the server could read otherwise", "POST", "/auth/x/../api-keys", "Bearer " + token},
	} {
		req, _ := http.NewRequest(tc.method, endpointURL+tc.path, strings.NewReader(`{"name":"x"}`))
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var body struct {
			Detail string `json:"detail"`
		}
		derr := json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != 401 || derr != nil || body.Detail == "" {
			t.Errorf("%s: %d %q %v, want 401 with a detail", tc.name, resp.StatusCode, body.Detail, derr)
		}
	}
	a, _ = runSDK(t, w, []string{"TORALE_API_KEY=" + credstore.LocalTokenPrefix + strings.Repeat("y", 32)}, "GET", "/auth/me")
	if a.Status != 401 || !strings.Contains(a.Body, `"detail"`) {
		t.Errorf("the SDK with a wrong token: %d %s", a.Status, a.Body)
	}
	if got := api.requests(); len(got) != before {
		t.Errorf("refused requests reached the stand-in: %q", got[before:])
	}

	// Another user with the token copied is refused (needs root to be one).
	if os.Getuid() == 0 {
		if curl, err := exec.LookPath("curl"); err == nil {
			cmd := exec.Command(curl, "-s", "-w", "\n%{http_code}", "-H", "Authorization: Bearer "+token, endpointURL+"/auth/me")
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			cmd.Env = []string{"PATH=/usr/bin:/bin"}
			out, err := cmd.Output()
			if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "401") || !strings.Contains(string(out), `"detail"`) {
				t.Errorf("another user with the token: %q %v, want 401", out, err)
			}
			if got := api.requests(); len(got) != before {
				t.Errorf("another user's request reached the stand-in: %q", got[before:])
			}
		}
	}

	// A new key stored any way (here login, through the daemon) is the
	// next request's; the token and config.json are unchanged.
	if _, e, code := w.CLI(t, keyStored+"\n", nil, "login"); code != 0 {
		t.Fatalf("login: %d %s", code, e)
	}
	if a, _ = runSDK(t, w, nil, "GET", "/auth/me"); a.Status != 200 {
		t.Fatalf("after a new key: %d %s", a.Status, a.Body)
	}
	if got := api.requests(); got[len(got)-1] != "GET /auth/me "+keyStored {
		t.Errorf("after a new key the stand-in saw %q, want the new key", got[len(got)-1])
	}
	if k, _, _ := readConfig(t, w.Config); k != token {
		t.Errorf("config.json's token changed with the key")
	}

	// The other doors hand out the real key and the real URL.
	if out, e, code := w.CLI(t, "", nil, "exec", "--", "sh", "-c", `printf '%s %s' "$TORALE_API_URL" "$TORALE_API_KEY"`); code != 0 || out != api.URL+" "+keyStored {
		t.Errorf("exec: %q (%d %s), want the real URL and key", out, code, e)
	}

	// A large answer streams through unchanged, in bounded memory: the
	// daemon's peak resident size grows by much less than the answer.
	hwm := peakRSS(t, d.PID())
	req, _ := http.NewRequest("GET", endpointURL+"/big", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	resp.Body.Close()
	want := sha256.New()
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	for i := 0; i < bigAnswer; i += len(chunk) {
		want.Write(chunk)
	}
	if err != nil || n != bigAnswer || !bytes.Equal(h.Sum(nil), want.Sum(nil)) || resp.StatusCode != 200 {
		t.Errorf("the 8 MiB answer: %d bytes, status %d, err %v (or not the same bytes)", n, resp.StatusCode, err)
	}
	if grew := peakRSS(t, d.PID()) - hwm; grew > bigAnswer/2 {
		t.Errorf("the daemon's peak memory grew by %d KiB streaming %d KiB", grew>>10, bigAnswer>>10)
	}
	if strings.Contains(d.Stderr.String(), keyConfig) || strings.Contains(d.Stderr.String(), keyStored) || strings.Contains(d.Stderr.String(), token) {
		t.Error("the daemon's log holds a key or the local token")
	}
}

// noKeyUnder fails when any file under dir holds key.
func noKeyUnder(t *testing.T, dir, key string) {
	t.Helper()
	_ = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(key)) {
			t.Errorf("%s holds the real key", p)
		}
		return nil
	})
}

// trail is the daemon's audit trail as it stands.
func trail(t *testing.T, w *proctest.World) []audit.Event {
	t.Helper()
	f, err := os.Open(filepath.Join(w.State, audit.FileName))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []audit.Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if e, err := audit.ParseLine(sc.Bytes()); err == nil {
			out = append(out, e)
		}
	}
	return out
}

// peakRSS is process pid's peak resident size in bytes (VmHWM).
func peakRSS(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// TestEndpointWatcherLeavesItsOwnFileAlone: the watcher never "migrates"
// its own token and URL (no loop), and an api_url the user writes later
// becomes the real URL, config.json naming the endpoint again.
func TestEndpointWatcherLeavesItsOwnFileAlone(t *testing.T) {
	t.Parallel()
	testkeyring.Require(t)
	w := proctest.NewWorld(t)
	writeFile(t, w.Config, `{"api_key":"`+keyConfig+`","api_url":"https://first.example"}`)
	d := w.Daemon(t, nil)
	token, endpointURL := waitLocalToken(t, w.Config)
	before, _ := os.Stat(w.Config)
	time.Sleep(500 * time.Millisecond)
	if after, _ := os.Stat(w.Config); !after.ModTime().Equal(before.ModTime()) || !os.SameFile(before, after) {
		t.Error("the watcher rewrote its own config.json")
	}
	apiURL := func() string {
		out, e, code := w.CLI(t, "", nil, "exec", "--", "sh", "-c", `printf %s "$TORALE_API_URL"`)
		if code != 0 {
			t.Fatalf("exec: %d %s", code, e)
		}
		return out
	}
	if u := apiURL(); u != "https://first.example" {
		t.Errorf("exec's URL %q, want config.json's former one", u)
	}
	writeFile(t, w.Config, `{"api_key":"`+token+`","api_url":"https://second.example","other":true}`)
	eventually(t, "config.json names the endpoint again", func() error {
		if k, u, all := readConfig(t, w.Config); k != token || u != endpointURL || all["other"] != true {
			return errors.New("not yet")
		}
		return nil
	})
	if u := apiURL(); u != "https://second.example" {
		t.Errorf("exec's URL %q after the user's edit, want https://second.example", u)
	}
	if log := d.Stderr.String(); strings.Contains(log, "well-formed") || strings.Contains(log, token) {
		t.Errorf("the daemon took its own token for a bad key, or logged it:\n%s", log)
	}
	out, _, _ := w.CLI(t, "", nil, "status")
	if !strings.Contains(out, "Endpoint:    "+endpointURL+" (on)") || !strings.Contains(out, "holds the local endpoint's token") {
		t.Errorf("status:\n%s", out)
	}

	// Reissued: config.json gets the new token, the daemon refuses the old
	// one at once and takes the new one (forwarded, so not a 401).
	if _, e, code := w.CLI(t, "", nil, "endpoint", "reissue"); code != 0 {
		t.Fatalf("endpoint reissue: %d %s", code, e)
	}
	newToken, _, _ := readConfig(t, w.Config)
	if !credstore.IsLocalToken(newToken) || newToken == token {
		t.Fatal("config.json did not get a new token")
	}
	status := func(tok string) int {
		req, _ := http.NewRequest("GET", endpointURL+"/auth/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := (&http.Client{Transport: &http.Transport{}, Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	eventually(t, "the daemon takes the reissued token", func() error {
		if old, cur := status(token), status(newToken); old != 401 || cur == 401 {
			return fmt.Errorf("old token %d, new token %d", old, cur)
		}
		return nil
	})
	out, _, _ = w.CLI(t, "", nil, "endpoint", "status", "--json")
	if !strings.Contains(out, `"state": "on"`) || !strings.Contains(out, credstore.TokenHint(newToken)) || strings.Contains(out, newToken) {
		t.Errorf("endpoint status --json:\n%s", out)
	}
}

// TestNoEndpointKeepsConfigWithoutAKey: daemon --no-endpoint moves the key
// and leaves config.json without one, as before the endpoint.
func TestNoEndpointKeepsConfigWithoutAKey(t *testing.T) {
	t.Parallel()
	testkeyring.Require(t)
	w := proctest.NewWorld(t)
	writeFile(t, w.Config, `{"api_key":"`+keyConfig+`","api_url":"https://first.example"}`)
	w.Daemon(t, nil, "--no-endpoint")
	eventually(t, "config.json holds no key", func() error {
		if _, _, all := readConfig(t, w.Config); all == nil || all["api_key"] != nil || all["api_url"] != "https://first.example" {
			return errors.New("not yet")
		}
		return nil
	})
	out, _, _ := w.CLI(t, "", nil, "status")
	if !strings.Contains(out, "Endpoint:    off") {
		t.Errorf("status:\n%s", out)
	}
}

// TestEndpointPortTakenMovesAndConfigFollows: another program holds the
// endpoint's recorded port when the daemon starts again. The daemon moves
// to a free port, config.json follows it, and no door takes the old port
// for a real URL of the user's (the real key must never go to whatever
// listens there now).
func TestEndpointPortTakenMovesAndConfigFollows(t *testing.T) {
	t.Parallel()
	testkeyring.Require(t)
	w := proctest.NewWorld(t)
	writeFile(t, w.Config, `{"api_key":"`+keyConfig+`","api_url":"https://real.example","other":1}`)
	d := w.Daemon(t, nil)
	token, first := waitLocalToken(t, w.Config)
	if err := d.Stop(t); err != nil {
		t.Fatal(err)
	}
	squatter, err := net.Listen("tcp4", strings.TrimPrefix(first, "http://"))
	if err != nil {
		t.Fatalf("holding the endpoint's port: %v", err)
	}
	defer squatter.Close()

	d = w.Daemon(t, nil)
	var moved string
	eventually(t, "config.json names the endpoint's new port", func() error {
		k, u, all := readConfig(t, w.Config)
		if k != token || u == first || all["other"] != float64(1) {
			return fmt.Errorf("config.json: token kept %v, url %s", k == token, u)
		}
		moved = u
		return nil
	})
	out, e, code := w.CLI(t, "", nil, "exec", "--", "sh", "-c", `printf %s "$TORALE_API_URL"`)
	if code != 0 || out != "https://real.example" {
		t.Errorf("exec's URL %q (exit %d, %s), want the real URL", out, code, e)
	}
	st, _, _ := w.CLI(t, "", nil, "status")
	if !strings.Contains(st, "Endpoint:    "+moved+" (on)") {
		t.Errorf("status after the move:\n%s", st)
	}
	// The daemon's stderr reaches the test through a pipe.
	eventually(t, "the daemon says why it moved", func() error {
		if !strings.Contains(d.Stderr.String(), "taken by another program") {
			return fmt.Errorf("not in:\n%s", d.Stderr.String())
		}
		return nil
	})
}

// TestDotenvThroughTheEndpoint: a project that followed Torale's docs with
// a .env file (python-dotenv's load_dotenv() puts its lines into the
// environment) keeps working after `torale-cred scan --fix`: the .env now
// holds the local token and the endpoint's URL, the SDK built from that
// environment is answered, the stand-in saw the real key, and the real key
// is in no file of the project but the backup scan --fix names.
func TestDotenvThroughTheEndpoint(t *testing.T) {
	t.Parallel()
	testkeyring.Require(t)
	api := newStandIn(t)
	w := proctest.NewWorld(t)
	certFile := filepath.Join(w.Base, "standin.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: api.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	writeFile(t, w.Config, `{"api_key":"`+keyConfig+`","api_url":"`+api.URL+`"}`)
	d := w.Daemon(t, []string{"SSL_CERT_FILE=" + certFile})
	waitLocalToken(t, w.Config)
	proj := filepath.Join(w.Home, "proj")
	if err := os.MkdirAll(proj, 0o700); err != nil {
		t.Fatal(err)
	}
	env := filepath.Join(proj, ".env")
	writeFile(t, env, "# from Torale's docs\nTORALE_API_KEY="+keyConfig+"\nTORALE_API_URL="+api.URL+"\nOTHER=kept\n")
	if out, e, code := w.CLI(t, "", nil, "scan", "--fix", proj); code != 0 {
		t.Fatalf("scan --fix: exit %d\n%s%s", code, out, e)
	}
	b, err := os.ReadFile(env)
	if err != nil {
		t.Fatal(err)
	}
	// load_dotenv(): each KEY=VALUE line into the environment.
	var vars []string
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(k, "#") {
			vars = append(vars, k+"="+v)
		}
	}
	if !strings.Contains(string(b), "OTHER=kept") || strings.Contains(string(b), keyConfig) {
		t.Fatalf(".env after scan --fix still holds the key or lost a line:\n%s", strings.ReplaceAll(string(b), keyConfig, "KEY"))
	}
	a, raw := runSDK(t, w, vars, "GET", "/auth/me")
	if a.Status != 200 || !strings.Contains(a.Body, "ada@example.com") {
		t.Fatalf("the SDK from .env after scan --fix: %d %s\ndaemon: %s", a.Status, a.Body, d.Stderr.String())
	}
	if strings.Contains(raw, keyConfig) {
		t.Error("the real key reached the SDK's process")
	}
	if got := api.requests(); len(got) == 0 || got[len(got)-1] != "GET /auth/me "+keyConfig {
		t.Errorf("the stand-in saw %q, want the real key", got)
	}
	backups, _ := filepath.Glob(filepath.Join(proj, ".env.torale-cred-backup-*"))
	if len(backups) != 1 {
		t.Fatalf("backups: %v, want one", backups)
	}
	if err := os.Remove(backups[0]); err != nil { // as scan --fix says to, once it works
		t.Fatal(err)
	}
	noKeyUnder(t, w.Home, keyConfig)
}
