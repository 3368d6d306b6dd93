//go:build linux && !race

package doors

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/internal/proctest"
	"github.com/torale-ai/torale-cred/internal/testkeyring"
)

// bin holds the shipped programs (proctest.Programs), found or built once
// by TestMain: every door is the binary a user runs.
var bin string

func TestMain(m *testing.M) {
	os.Exit(proctest.WithPrograms(func(dir string) int { bin = dir; return m.Run() }))
}

// newWorld is a proctest world whose torale-cred is the shipped program.
func newWorld(t *testing.T) *proctest.World {
	w := proctest.NewWorld(t)
	w.Bin = bin
	return w
}

const (
	keyDefault = "sk_DEFAULTdefaultDEFAULTdefault0001"
	keyWork    = "sk_WORKworkWORKworkWORKworkWORKwork0002"
	keyEnv     = "sk_ENVenvENVenvENVenvENVenvENVenv0003"
	keyFlag    = "sk_FLAGflagFLAGflagFLAGflagFLAGflag0004"
	keyPlain   = "sk_PLAINplainPLAINplainPLAINplain0005"
	keyOther   = "sk_OTHERotherOTHERotherOTHERother0006"
)

// want is what every door must agree on. An empty key with source "none"
// and code 3 is "no key"; code 4 is a keychain failure.
type want struct {
	key, keySource, url, urlSource string
	code                           int // token's exit code
}

// row is one situation: files, stored keys, the caller's environment and
// flags, and how the daemon runs.
type row struct {
	name     string
	stored   map[string]string // profile → key in the keychain
	loginURL map[string]string // profile → login --api-url
	config   string            // config.json content ("" none)
	configAs string            // "", "fifo", "dir", "symlink", "empty", "foreign"
	// configOld: config.json was written an hour before the stored key (a
	// stale copy); otherwise it is written after it.
	configOld bool
	env       []string // the caller's environment
	profile   string   // --profile
	flagKey   string   // --api-key
	daemonArg []string // extra daemon flags
	down      bool     // the keychain is unreachable for everyone
	// locked: the keychain is locked after the daemon has read the key
	// (it is in the daemon's memory, which must not outlive the lock).
	locked bool
	// chownAfter: config.json is given to another user once the daemon
	// has read it (an attribute change, no write).
	chownAfter bool
	// storedDaysAgo backdates the stored keys; wantDue is then status's
	// rotation verdict for the caller's own period.
	storedDaysAgo int
	wantDue       bool
	otherCfg      string // content of a second config.json the caller names with TORALE_CONFIG
	daemonURL     string // with otherCfg: the URL the daemon's own config.json names
	want          want
}

var rows = []row{
	{name: "stored", stored: map[string]string{"default": keyDefault},
		want: want{keyDefault, "keychain", "https://api.torale.ai", "default", 0}},
	{name: "env beats stored", stored: map[string]string{"default": keyDefault}, env: []string{"TORALE_API_KEY=" + keyEnv},
		want: want{keyEnv, "env", "https://api.torale.ai", "default", 0}},
	{name: "flag beats env", stored: map[string]string{"default": keyDefault}, env: []string{"TORALE_API_KEY=" + keyEnv}, flagKey: keyFlag,
		want: want{keyFlag, "flag", "https://api.torale.ai", "default", 0}},
	{name: "keychain beats an older config", stored: map[string]string{"default": keyDefault}, config: `{"api_key":"` + keyPlain + `","api_url":"https://cfg.example"}`, configOld: true,
		want: want{keyDefault, "keychain", "https://cfg.example", "config", 0}},
	// A plaintext key written after the stored one is what a watching
	// daemon would store next: every door serves it already.
	{name: "a newer plaintext key beats the stored one", stored: map[string]string{"default": keyDefault}, config: `{"api_key":"` + keyPlain + `","api_url":"https://cfg.example"}`,
		want: want{keyPlain, "config", "https://cfg.example", "config", 0}},
	{name: "config last", config: `{"api_key":"` + keyPlain + `"}`,
		want: want{keyPlain, "config", "https://api.torale.ai", "default", 0}},
	{name: "TORALE_API_URL beats config", stored: map[string]string{"default": keyDefault}, config: `{"api_url":"https://cfg.example"}`, env: []string{"TORALE_API_URL=https://env.example"},
		want: want{keyDefault, "keychain", "https://env.example", "env", 0}},
	{name: "dev mode beats config", stored: map[string]string{"default": keyDefault}, config: `{"api_url":"https://cfg.example"}`, env: []string{"TORALE_DEV=1"},
		want: want{keyDefault, "keychain", "http://localhost:8000", "dev", 0}},
	{name: "TORALE_DEV=true is not dev", stored: map[string]string{"default": keyDefault}, env: []string{"TORALE_DEV=true"},
		want: want{keyDefault, "keychain", "https://api.torale.ai", "default", 0}},
	{name: "no key", want: want{"", "none", "https://api.torale.ai", "default", 3}},
	{name: "no key with TORALE_NOAUTH=1", env: []string{"TORALE_NOAUTH=1"},
		want: want{"", "none", "http://localhost:8000", "dev", 3}},
	{name: "TORALE_PROFILE", stored: map[string]string{"default": keyDefault, "work": keyWork}, env: []string{"TORALE_PROFILE=work"},
		want: want{keyWork, "keychain", "https://api.torale.ai", "default", 0}},
	{name: "--profile", stored: map[string]string{"default": keyDefault, "work": keyWork}, profile: "work",
		want: want{keyWork, "keychain", "https://api.torale.ai", "default", 0}},
	{name: "login --api-url tier", stored: map[string]string{"default": keyDefault}, loginURL: map[string]string{"default": "https://self.example"},
		want: want{keyDefault, "keychain", "https://self.example", "profile", 0}},
	{name: "config.json belongs to the daemon's --profile", config: `{"api_key":"` + keyPlain + `","api_url":"https://cfg.example"}`, daemonArg: []string{"--profile", "work"}, env: []string{"TORALE_PROFILE=work"},
		want: want{keyPlain, "config", "https://cfg.example", "config", 0}},
	{name: "not the daemon's --profile: no config tier", config: `{"api_key":"` + keyPlain + `","api_url":"https://cfg.example"}`, daemonArg: []string{"--profile", "work"},
		want: want{"", "none", "https://api.torale.ai", "default", 3}},
	{name: "the caller's own TORALE_CONFIG", stored: map[string]string{"default": keyDefault}, config: `{"api_url":"https://daemons.example"}`, otherCfg: `{"api_url":"https://callers.example"}`, daemonURL: "https://daemons.example",
		want: want{keyDefault, "keychain", "https://callers.example", "config", 0}},
	{name: "keychain down", stored: map[string]string{"default": keyDefault}, down: true,
		want: want{"", "none", "https://api.torale.ai", "default", 4}},
	{name: "keychain down, config covers", config: `{"api_key":"` + keyPlain + `"}`, down: true,
		want: want{keyPlain, "config", "https://api.torale.ai", "default", 0}},
	{name: "keychain locked after the daemon read the key", stored: map[string]string{"default": keyDefault}, locked: true,
		want: want{"", "none", "https://api.torale.ai", "default", 4}},
	{name: "config.json given to another user while the daemon runs", stored: map[string]string{"default": keyDefault}, config: `{"api_url":"https://cfg.example"}`, chownAfter: true,
		want: want{keyDefault, "keychain", "https://api.torale.ai", "default", 0}},
	{name: "the caller's TORALE_CRED_ROTATE_AFTER rules its rotation view", stored: map[string]string{"default": keyDefault}, storedDaysAgo: 40, env: []string{"TORALE_CRED_ROTATE_AFTER=30d"}, wantDue: true,
		want: want{keyDefault, "keychain", "https://api.torale.ai", "default", 0}},
	{name: "config.json a FIFO", stored: map[string]string{"default": keyDefault}, configAs: "fifo",
		want: want{keyDefault, "keychain", "https://api.torale.ai", "default", 0}},
	{name: "config.json a directory", stored: map[string]string{"default": keyDefault}, configAs: "dir",
		want: want{keyDefault, "keychain", "https://api.torale.ai", "default", 0}},
	{name: "config.json a symlink", config: `{"api_key":"` + keyPlain + `","api_url":"https://linked.example"}`, configAs: "symlink",
		want: want{keyPlain, "config", "https://linked.example", "config", 0}},
	{name: "config.json empty", stored: map[string]string{"default": keyDefault}, configAs: "empty",
		want: want{keyDefault, "keychain", "https://api.torale.ai", "default", 0}},
	{name: "config.json owned by another user", config: `{"api_key":"` + keyOther + `","api_url":"http://127.0.0.1:9"}`, configAs: "foreign",
		want: want{"", "none", "https://api.torale.ai", "default", 3}},
}

// TestEveryDoorGivesTheSameAnswer runs every row through every door: the
// CLI without a daemon, the CLI through a real daemon, curl on
// /v1/resolve, exec (the child's environment) and git credential fill, on
// the real Secret Service, and asserts one key, key source, URL and URL
// source.
func TestEveryDoorGivesTheSameAnswer(t *testing.T) {
	testkeyring.Require(t)
	for _, exe := range []string{"curl", "git"} {
		if _, err := exec.LookPath(exe); err != nil {
			t.Fatalf("%s is needed (.ci/deps installs it)", exe)
		}
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			if (r.configAs == "foreign" || r.chownAfter) && os.Geteuid() != 0 {
				t.Skip("giving config.json to another user needs root")
			}
			w, env := setUp(t, r)
			d := w.Daemon(t, daemonEnv(r), append([]string{"--no-watch"}, r.daemonArg...)...)
			if r.locked {
				lockAfterRead(t, w, env)
			}
			if r.chownAfter {
				chownAfterRead(t, w, env)
			}
			checkCLI(t, w, "CLI through the daemon", env, r)
			checkGit(t, w, "git through the daemon", env, r)
			checkCurl(t, w, env, r)

			// The same once the daemon has stopped (a daemon started with
			// --profile has recorded config.json's profile for everyone).
			if err := d.Stop(t); err != nil {
				t.Fatalf("daemon stop: %v", err)
			}
			noDaemon := append([]string{"TORALE_CRED_NO_DAEMON=1"}, env...)
			checkCLI(t, w, "CLI without the daemon", noDaemon, r)
			checkGit(t, w, "git without the daemon", noDaemon, r)
			if r.configAs == "fifo" || r.configAs == "dir" || r.configAs == "empty" {
				if fi, err := os.Lstat(w.Config); err != nil || (r.configAs == "dir") != fi.IsDir() {
					t.Errorf("config.json was touched: %v %v", fi, err)
				}
			}
		})
	}
}

// lockAfterRead has the daemon read the stored key, locks the keychain,
// and waits until the daemon's token answer follows the lock (its keychain
// state is at most a few seconds old).
func lockAfterRead(t *testing.T, w *proctest.World, env []string) {
	t.Helper()
	if _, errOut, code := runTimed(t, w, env, "token"); code != 0 {
		t.Fatalf("token before the lock: exit %d: %s", code, errOut)
	}
	bus := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	testkeyring.Lock(t, bus)
	t.Cleanup(func() {
		testkeyring.Unlock(t, bus, cmp.Or(os.Getenv("TORALE_CRED_TEST_KEYRING_PASSWORD"), "torale-test"))
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, _, code := runTimed(t, w, env, "token")
		if code == 4 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("token through the daemon still exits %d 15 s after the keychain was locked", code)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// chownAfterRead waits until the daemon serves config.json's URL, gives
// the file to another user, and waits until the daemon stops using it.
func chownAfterRead(t *testing.T, w *proctest.World, env []string) {
	t.Helper()
	url := func() string {
		out, _, _ := runTimed(t, w, env, "status", "--json")
		var rep struct {
			Profiles []struct {
				URL string `json:"api_url"`
			} `json:"profiles"`
		}
		if json.Unmarshal([]byte(out), &rep) != nil || len(rep.Profiles) == 0 {
			return ""
		}
		return rep.Profiles[0].URL
	}
	if u := url(); u != "https://cfg.example" {
		t.Fatalf("before the chown the daemon serves %q, want config.json's URL", u)
	}
	if err := os.Chown(w.Config, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for url() == "https://cfg.example" {
		if time.Now().After(deadline) {
			t.Fatal("10 s after config.json was given to another user, the daemon still serves its URL")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func daemonEnv(r row) []string {
	if r.down {
		return []string{"DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/bus", "TORALE_CRED_KEYCHAIN_TIMEOUT=1s"}
	}
	return nil
}

// setUp lays out the row's files and keys and returns the caller's
// environment.
func setUp(t *testing.T, r row) (*proctest.World, []string) {
	t.Helper()
	w := newWorld(t)
	st := w.Store()
	ctx := context.Background()
	for p, k := range r.stored {
		o := credstore.PutOptions{Source: credstore.SourceLogin}
		if u, ok := r.loginURL[p]; ok {
			o.APIURL = &u
		}
		if _, err := st.Put(ctx, p, k, o); err != nil {
			t.Fatal(err)
		}
	}
	if r.storedDaysAgo > 0 {
		then := time.Now().Add(-time.Duration(r.storedDaysAgo) * 24 * time.Hour).UTC()
		if err := st.StateFile.Update(func(s *credstore.State) error {
			for _, p := range s.Profiles {
				p.StoredAt, p.CreatedAt = then, &then
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for p := range r.stored {
			_ = st.Keychain.Delete(context.Background(), p)
		}
	})
	write := func(path, content string, perm os.FileMode) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), perm); err != nil {
			t.Fatal(err)
		}
	}
	switch r.configAs {
	case "":
		if r.config != "" {
			write(w.Config, r.config, 0o600)
			if r.configOld {
				old := time.Now().Add(-time.Hour)
				if err := os.Chtimes(w.Config, old, old); err != nil {
					t.Fatal(err)
				}
			}
		}
	case "fifo":
		if err := syscall.Mkfifo(w.Config, 0o600); err != nil {
			t.Fatal(err)
		}
	case "dir":
		if err := os.Mkdir(w.Config, 0o700); err != nil {
			t.Fatal(err)
		}
	case "empty":
		write(w.Config, "", 0o600)
	case "symlink":
		target := filepath.Join(w.Home, "dotfiles", "config.json")
		if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
			t.Fatal(err)
		}
		write(target, r.config, 0o600)
		if err := os.Symlink(target, w.Config); err != nil {
			t.Fatal(err)
		}
	case "foreign":
		write(w.Config, r.config, 0o600)
		if err := os.Chown(w.Config, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	env := append([]string{}, r.env...)
	if r.otherCfg != "" {
		other := filepath.Join(w.Home, "other", "config.json")
		if err := os.MkdirAll(filepath.Dir(other), 0o700); err != nil {
			t.Fatal(err)
		}
		write(other, r.otherCfg, 0o600)
		env = append(env, "TORALE_CONFIG="+other)
	}
	env = append(env, daemonEnv(r)...)
	return w, env
}

func flags(r row) []string {
	var f []string
	if r.profile != "" {
		f = append(f, "--profile", r.profile)
	}
	return f
}

// checkCLI asks token, status --json and exec.
func checkCLI(t *testing.T, w *proctest.World, door string, env []string, r row) {
	t.Helper()
	args := append([]string{"token"}, flags(r)...)
	if r.flagKey != "" {
		args = append(args, "--api-key", r.flagKey)
	}
	out, errOut, code := runTimed(t, w, env, args...)
	if code != r.want.code || strings.TrimSpace(out) != r.want.key {
		t.Errorf("%s: token = %q, exit %d (%s); want %q, exit %d", door, apikey.Hint(strings.TrimSpace(out)), code, errOut, apikey.Hint(r.want.key), r.want.code)
	}

	// exec: the child's environment is the answer.
	args = append([]string{"exec"}, flags(r)...)
	if r.flagKey != "" {
		args = append(args, "--api-key", r.flagKey)
	}
	args = append(args, "--", "sh", "-c", `printf '%s|%s' "${TORALE_API_KEY-}" "$TORALE_API_URL"`)
	out, errOut, code = runTimed(t, w, env, args...)
	switch {
	case r.want.code == 3 && r.want.urlSource == "dev": // TORALE_NOAUTH: runs without a key
		if code != 0 || out != "|"+r.want.url {
			t.Errorf("%s: exec saw %q, exit %d (%s); want no key and %s", door, out, code, errOut, r.want.url)
		}
	case r.want.code != 0:
		if code != r.want.code {
			t.Errorf("%s: exec exit %d (%s), want %d", door, code, errOut, r.want.code)
		}
	case out != r.want.key+"|"+r.want.url:
		t.Errorf("%s: exec saw %q (%s), want %s|%s", door, hideKeys(out), errOut, apikey.Hint(r.want.key), r.want.url)
	}

	if r.flagKey != "" {
		return // status has no --api-key
	}
	out, errOut, _ = runTimed(t, w, env, append([]string{"status", "--json"}, flags(r)...)...)
	var rep struct {
		Profiles []struct {
			KeyHint   string `json:"key_hint"`
			KeySource string `json:"api_key_source"`
			Rotation  *struct {
				Due bool `json:"due"`
			} `json:"rotation"`
			URL       string `json:"api_url"`
			URLSource string `json:"api_url_source"`
		} `json:"profiles"`
		Via string `json:"via"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Profiles) == 0 {
		t.Errorf("%s: status --json: %v\n%s%s", door, err, out, errOut)
		return
	}
	p := rep.Profiles[0]
	if r.want.code == 4 {
		if p.KeySource != "unknown" {
			t.Errorf("%s: status with the keychain down says source %q", door, p.KeySource)
		}
		return
	}
	wantHint := ""
	if r.want.key != "" {
		wantHint = apikey.Hint(r.want.key)
	}
	if p.KeySource != r.want.keySource || p.URL != r.want.url || p.URLSource != r.want.urlSource || (wantHint != "" && p.KeyHint != wantHint) {
		t.Errorf("%s: status says %s from %s, %s from %s; want %s from %s, %s from %s", door,
			p.KeyHint, p.KeySource, p.URL, p.URLSource, wantHint, r.want.keySource, r.want.url, r.want.urlSource)
	}
	if r.storedDaysAgo > 0 && (p.Rotation == nil || p.Rotation.Due != r.wantDue) {
		t.Errorf("%s: status says rotation %+v, want due %v", door, p.Rotation, r.wantDue)
	}
	if strings.Contains(out, r.want.key) && r.want.key != "" {
		t.Errorf("%s: status printed a key", door)
	}
}

// checkGit asks git credential fill for the answer's host: the same key,
// or nothing where no key goes (no key; dev mode's unnamed http URL).
func checkGit(t *testing.T, w *proctest.World, door string, env []string, r row) {
	t.Helper()
	if r.flagKey != "" || r.profile != "" {
		return // git has neither flag
	}
	gitcfg := filepath.Join(w.Base, "gitconfig")
	if err := os.WriteFile(gitcfg, []byte("[credential]\n\thelper = torale\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	scheme, host, _ := strings.Cut(r.want.url, "://")
	cmd := exec.Command("git", "credential", "fill")
	cmd.Env = append(w.Env(), env...)
	cmd.Env = append(cmd.Env, "PATH="+w.Bin+":"+os.Getenv("PATH"), "GIT_CONFIG_GLOBAL="+gitcfg, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=", "SSH_ASKPASS=")
	cmd.Stdin = strings.NewReader("protocol=" + scheme + "\nhost=" + host + "\n\n")
	outb, _ := cmd.Output()
	out := string(outb)
	wantKey := r.want.key
	if r.want.urlSource == "dev" {
		wantKey = "" // dev mode alone never hands a key to plain http (finding 5)
	}
	got := ""
	for _, l := range strings.Split(out, "\n") {
		if p, ok := strings.CutPrefix(l, "password="); ok {
			got = p
		}
	}
	if got != wantKey {
		t.Errorf("%s: git credential fill for %s gave %q, want %q", door, r.want.url, apikey.Hint(got), apikey.Hint(wantKey))
	}
}

// checkCurl posts the caller's own flags and environment to /v1/resolve,
// as any language would.
func checkCurl(t *testing.T, w *proctest.World, env []string, r row) {
	t.Helper()
	body := map[string]any{}
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "TORALE_") {
			vars[k] = v
		}
	}
	body["env"] = vars
	if r.profile != "" {
		body["profile"] = r.profile
	}
	if r.flagKey != "" {
		body["api_key"] = r.flagKey
	}
	b, _ := json.Marshal(body)
	cmd := exec.Command("curl", "-sS", "--max-time", "10", "--unix-socket", w.Sock, "-H", "Content-Type: application/json", "--data-binary", "@-", "-w", "\n%{http_code}", "http://torale/v1/resolve")
	cmd.Stdin = strings.NewReader(string(b))
	out, err := cmd.Output()
	if err != nil {
		t.Errorf("curl: %v", err)
		return
	}
	raw := strings.TrimSpace(string(out))
	i := strings.LastIndex(raw, "\n")
	if i < 0 {
		t.Errorf("curl /v1/resolve: no status in %q", hideKeys(raw))
		return
	}
	resp, status := raw[:i], raw[i+1:]
	wantStatus := map[int]string{0: "200", 3: "404", 4: "503"}[r.want.code]
	if r.want.code == 3 && r.want.urlSource == "dev" {
		wantStatus = "200" // TORALE_NOAUTH=1: an answer without a key
	}
	if status != wantStatus {
		t.Errorf("curl /v1/resolve: status %s, want %s: %s", status, wantStatus, hideKeys(resp))
		return
	}
	if status != "200" {
		return
	}
	var res credstore.Resolution
	if err := json.Unmarshal([]byte(resp), &res); err != nil {
		t.Fatal(err)
	}
	want := r.want
	if r.otherCfg != "" {
		// A request names no file: the daemon answers from its own
		// config.json whatever TORALE_CONFIG the caller sends (the CLI
		// with its own file answers itself, over the daemon's keys).
		want.url, want.urlSource = r.daemonURL, "config"
	}
	if res.Key != want.key || res.KeySource != want.keySource || res.URL != want.url || res.URLSource != want.urlSource {
		t.Errorf("curl /v1/resolve: %s from %s, %s from %s; want %s from %s, %s from %s",
			apikey.Hint(res.Key), res.KeySource, res.URL, res.URLSource, apikey.Hint(want.key), want.keySource, want.url, want.urlSource)
	}
}

// runTimed runs the CLI and fails the test if it takes more than 20 s (a
// read that blocked).
func runTimed(t *testing.T, w *proctest.World, env []string, args ...string) (string, string, int) {
	t.Helper()
	done := make(chan struct{})
	var out, errOut string
	var code int
	go func() {
		defer close(done)
		out, errOut, code = w.CLI(t, "", env, args...)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("torale-cred %v hung", args)
	}
	return out, errOut, code
}

func hideKeys(s string) string {
	for _, k := range []string{keyDefault, keyWork, keyEnv, keyFlag, keyPlain, keyOther} {
		s = strings.ReplaceAll(s, k, apikey.Hint(k))
	}
	return s
}

// TestTermEndsBlockedCommands: with a FIFO at one file torale-cred reads
// (config.json, or a file of its state directory), and a Secret Service
// that accepts but never answers, `timeout -s TERM 1` ends every command,
// the daemon and the git helper included: the signal ends it, where
// without it only the 60 s keychain timeout (or nothing, for a FIFO)
// would. Half a minute after the signal tells the two apart on any
// machine, and says nothing of its speed. One world per file, so each
// command gets past the files before it and meets that FIFO; all run at
// once, as they only wait.
func TestTermEndsBlockedCommands(t *testing.T) {
	testkeyring.Require(t)
	type run struct {
		name  string
		args  []string
		stdin string
	}
	gitAsk := "protocol=https\nhost=api.torale.ai\n\n"
	runs := []run{
		{"token", []string{"token"}, ""},
		{"status", []string{"status"}, ""},
		{"exec", []string{"exec", "--", "true"}, ""},
		{"env", []string{"env"}, ""},
		{"list", []string{"list"}, ""},
		{"import", []string{"import"}, ""},
		{"audit", []string{"audit"}, ""},
		{"doctor", []string{"doctor"}, ""},
		{"policy show", []string{"policy", "show"}, ""},
		{"store show", []string{"store", "show"}, ""},
		{"login", []string{"login"}, keyDefault + "\n"},
		{"logout", []string{"logout"}, ""},
		{"restore", []string{"restore"}, ""},
		{"scan", []string{"scan"}, ""},
		{"daemon", []string{"daemon"}, ""},
		{"git-credential-torale get", nil, gitAsk},
	}
	files := []string{"config.json", "state.json", "state.lock", "seen.json", "audit.jsonl", "audit.lock"}
	type ended struct {
		what string
		late time.Duration // 0: ended within the bound
	}
	results := make(chan ended, len(files)*len(runs)) // never blocks a waiter, even after a t.Fatal
	n := 0
	for _, file := range files {
		w := newWorld(t)
		if err := os.MkdirAll(w.State, 0o700); err != nil {
			t.Fatal(err)
		}
		fifo := filepath.Join(w.State, file)
		if file == "config.json" {
			fifo = w.Config
		}
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		hung := hungBus(t, w)
		for _, r := range runs {
			prog := append([]string{w.Program(t)}, r.args...)
			if r.args == nil {
				prog = []string{filepath.Join(w.Bin, "git-credential-torale"), "get"}
			}
			cmd := exec.Command("timeout", append([]string{"-s", "TERM", "1"}, prog...)...)
			cmd.Env = append(w.Env(), "DBUS_SESSION_BUS_ADDRESS="+hung, "TORALE_CRED_KEYCHAIN_TIMEOUT=60s", "TORALE_CRED_NO_DAEMON=1")
			cmd.Stdin = strings.NewReader(r.stdin)
			what := fmt.Sprintf("%s with a FIFO at %s", r.name, file)
			start := time.Now()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			n++
			go func() {
				done := make(chan struct{})
				go func() { _ = cmd.Wait(); close(done) }()
				select {
				case <-done:
					results <- ended{what: what}
				case <-time.After(31 * time.Second):
					_ = cmd.Process.Kill()
					<-done
					results <- ended{what: what, late: time.Since(start).Round(time.Second)}
				}
			}()
		}
	}
	for range n {
		if e := <-results; e.late != 0 {
			t.Errorf("%s still ran %v after TERM at 1s", e.what, e.late)
		}
	}
}

// hungBus is a Unix socket that accepts connections and never answers,
// listening before it is returned (no process to wait for).
func hungBus(t *testing.T, w *proctest.World) string {
	t.Helper()
	path := filepath.Join(w.Base, "hung-bus")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
		for _, c := range held {
			_ = c.Close()
		}
	})
	return "unix:path=" + path
}

// TestStatusBoundedByOneTimeout: with six profiles and a Secret Service that
// never answers, status takes one keychain timeout, not one per profile, and
// says the keychain failure once. The timeout is long enough (4 s) that one
// of it and seven of it (28 s) stay apart on a machine stalled for seconds.
func TestStatusBoundedByOneTimeout(t *testing.T) {
	testkeyring.Require(t)
	w := newWorld(t)
	sf := credstore.StateFile{Dir: w.State}
	if err := sf.Update(func(s *credstore.State) error {
		for i := range 6 {
			s.Profiles[fmt.Sprintf("p%d", i)] = &credstore.Profile{KeyHint: "sk_...aaaaa", StoredAt: time.Now(), Source: "login"}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	hung := hungBus(t, w)
	start := time.Now()
	out, errOut, code := w.CLI(t, "", []string{"DBUS_SESSION_BUS_ADDRESS=" + hung, "TORALE_CRED_KEYCHAIN_TIMEOUT=4s", "TORALE_CRED_NO_DAEMON=1"}, "status")
	d := time.Since(start)
	if d > 16*time.Second {
		t.Errorf("status with 6 profiles and a hung keychain took %v, want about one 4s timeout, not one per profile", d.Round(time.Millisecond))
	}
	if code != 4 || strings.Count(out, "Keychain:    unavailable") != 1 || strings.Count(out, "key:       unknown") != 7 || strings.Contains(out, "key:       none") {
		t.Errorf("status: exit %d\n%s%s", code, out, errOut)
	}
}
