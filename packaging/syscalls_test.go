//go:build linux

package packaging

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/internal/testkeyring"
)

// logText reads the daemon's log file for failure messages.
type logText struct{ path string }

func (l logText) String() string { b, _ := os.ReadFile(l.path); return string(b) }

// unitSetting is every value of key= in the unit's active lines.
func unitSetting(unit, key string) []string {
	var vs []string
	for _, l := range activeLines(unit) {
		if v, ok := strings.CutPrefix(l, key+"="); ok {
			vs = append(vs, v)
		}
	}
	return vs
}

// syscallSet expands systemd syscall groups (@system-service, …) into names
// with systemd-analyze, as the manager would.
func syscallSet(t *testing.T, analyze string, items []string) map[string]bool {
	t.Helper()
	set := map[string]bool{}
	for _, it := range items {
		if !strings.HasPrefix(it, "@") {
			set[it] = true
			continue
		}
		out, err := exec.Command(analyze, "syscall-filter", it).Output()
		if err != nil {
			t.Fatalf("systemd-analyze syscall-filter %s: %v", it, err)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "    ") && !strings.HasPrefix(strings.TrimSpace(l), "#") {
				for n := range syscallSet(t, analyze, []string{strings.TrimSpace(l)}) {
					set[n] = true
				}
			}
		}
	}
	return set
}

// patience bounds this test's waits for the daemon: long enough for any
// loaded machine (under strace), it only turns a hang into a failure.
const patience = 30 * time.Second

// TestDaemonFitsTheUnitsSandbox runs the real daemon under strace against
// the test Secret Service, drives it through the socket (health, store,
// resolve, list, delete, a plaintext config.json for the watcher), and
// checks every system call, socket family and mapping against the unit's
// SystemCallFilter=, RestrictAddressFamilies= and MemoryDenyWriteExecute=:
// a daemon change that the unit would kill or refuse fails here, not at a
// user's login.
func TestDaemonFitsTheUnitsSandbox(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the daemon under strace: skipped with -short")
	}
	testkeyring.Require(t)
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("strace is not installed (apt-get install strace)")
	}
	analyze := need(t, "systemd-analyze")

	dir := t.TempDir()
	exe := shippedToraleCred(t, dir)
	home := filepath.Join(dir, "home")
	run, err := os.MkdirTemp("", "rt") // short: sun_path is 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(run)
	if err := os.MkdirAll(filepath.Join(home, ".torale"), 0o700); err != nil {
		t.Fatal(err)
	}
	trace := filepath.Join(dir, "trace")
	// A file, not a pipe: Wait must not hang on a daemon strace left behind.
	logf, err := os.Create(filepath.Join(dir, "daemon.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	log := logText{logf.Name()}
	cmd := exec.Command(strace, "-f", "-qq", "-o", trace, exe, "daemon")
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_RUNTIME_DIR="+run, "XDG_STATE_HOME="+filepath.Join(home, ".local", "state"),
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "TORALE_CRED_KEYCHAIN_SERVICE="+testkeyring.Service(),
		"TORALE_CRED_SOCKET=", "TORALE_CONFIG=", "TORALE_API_KEY=", "LISTEN_FDS=", "NOTIFY_SOCKET=")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}) // closed when strace and the daemon are gone
	go func() { _ = cmd.Wait(); close(done) }()
	daemonPID := 0
	defer func() {
		select {
		case <-done:
		default:
			if daemonPID > 0 {
				_ = syscall.Kill(daemonPID, syscall.SIGKILL)
			}
			_ = cmd.Process.Kill()
			<-done
		}
	}()

	sock := filepath.Join(run, "torale", "cred.sock")
	client := &http.Client{Timeout: patience, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}}
	call := func(method, path, body string) int {
		t.Helper()
		req, _ := http.NewRequest(method, "http://torale"+path, strings.NewReader(body))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v\ndaemon log:\n%s", method, path, err, log.String())
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// The socket file exists between the daemon's bind and its listen:
	// wait for a connection to be taken, not for the file.
	deadline := time.Now().Add(patience)
	for {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon did not listen on %s: %v\n%s", sock, err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	const key = "sk_straceTESTkey0123456789abcdefghijklmnop"
	for _, c := range []struct {
		method, path, body string
	}{
		{"GET", "/v1/health", ""},
		{"PUT", "/v1/credentials/default", `{"api_key":"` + key + `"}`},
		{"POST", "/v1/resolve", `{}`},
		{"GET", "/v1/credentials", ""},
		{"GET", "/v1/credentials/default", ""},
		{"DELETE", "/v1/credentials/default", ""},
	} {
		if code := call(c.method, c.path, c.body); code >= 500 {
			t.Errorf("%s %s: %d\n%s", c.method, c.path, code, log.String())
		}
	}
	cfg := filepath.Join(home, ".torale", "config.json")
	if err := os.WriteFile(cfg, []byte(`{"api_key":"`+key+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	// The watcher's turn: its syscalls are in the trace once the key has
	// left config.json.
	for deadline := time.Now().Add(patience); ; time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(cfg); err == nil && !strings.Contains(string(b), key) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the watcher did not move the key out of config.json:\n%s", log.String())
		}
	}
	call("DELETE", "/v1/credentials/default", "")

	// strace's child is the daemon: the pid on the trace's first line.
	b, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	daemonPID, _ = strconv.Atoi(strings.Fields(string(b))[0])
	if daemonPID <= 0 {
		t.Fatalf("no pid in the trace")
	}
	_ = syscall.Kill(daemonPID, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(patience):
		t.Fatalf("the daemon did not stop on SIGTERM:\n%s", log.String())
	}
	if b, err = os.ReadFile(trace); err != nil {
		t.Fatal(err)
	}

	unit := SystemdService()
	allowed, denied := map[string]bool{}, map[string]bool{}
	for _, v := range unitSetting(unit, "SystemCallFilter") {
		if rest, ok := strings.CutPrefix(v, "~"); ok {
			for n := range syscallSet(t, analyze, strings.Fields(rest)) {
				denied[n] = true
			}
		} else {
			for n := range syscallSet(t, analyze, strings.Fields(v)) {
				allowed[n] = true
			}
		}
	}
	if len(allowed) == 0 {
		t.Fatal("the unit has no SystemCallFilter= allow list")
	}
	families := map[string]bool{}
	for _, v := range unitSetting(unit, "RestrictAddressFamilies") {
		for _, f := range strings.Fields(v) {
			families[f] = true
		}
	}
	mdwe := len(unitSetting(unit, "MemoryDenyWriteExecute")) > 0

	call1 := regexp.MustCompile(`^\d+\s+([a-z0-9_]+)\((.*)`)
	used, refused, wx := map[string]bool{}, map[string]bool{}, []string{}
	for _, l := range strings.Split(string(b), "\n") {
		m := call1.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		name, args := m[1], m[2]
		used[name] = true
		if !allowed[name] || denied[name] {
			refused[name] = true
		}
		if name == "socket" {
			fam, _, _ := strings.Cut(args, ",")
			if !families[fam] && len(families) > 0 && !refused["socket("+fam+")"] {
				refused["socket("+fam+")"] = true // outside RestrictAddressFamilies=
			}
		}
		if mdwe && (name == "mmap" || name == "mprotect") && strings.Contains(args, "PROT_WRITE") && strings.Contains(args, "PROT_EXEC") {
			wx = append(wx, l)
		}
	}
	if len(used) < 20 {
		t.Fatalf("the trace holds only %d system calls; strace did not follow the daemon:\n%s", len(used), b[:min(len(b), 2000)])
	}
	if len(refused) > 0 {
		names := make([]string, 0, len(refused))
		for n := range refused {
			names = append(names, n)
		}
		sort.Strings(names)
		t.Errorf("the daemon made system calls the unit's SystemCallFilter= or RestrictAddressFamilies= refuses: %v", names)
	}
	if len(wx) > 0 {
		t.Errorf("writable and executable mappings, which MemoryDenyWriteExecute= refuses:\n%s", strings.Join(wx, "\n"))
	}
	t.Logf("%d distinct system calls, all allowed by the unit (%s)", len(used), fmt.Sprint(unitSetting(unit, "SystemCallFilter")))
}
