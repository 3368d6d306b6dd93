//go:build linux

package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/internal/audit"
	"github.com/torale-ai/torale-cred/internal/notify/notifytest"
	"github.com/torale-ai/torale-cred/internal/peer"
	"github.com/torale-ai/torale-cred/internal/proctest"
	"github.com/torale-ai/torale-cred/internal/testkeyring"
	"github.com/torale-ai/torale-cred/ipc"
)

// The audit trail's end-to-end cases (issue 15, "Tests (real parts)"): a
// real daemon process on the real Secret Service, real programs asking it
// (curl, Python, git through the helper, torale-cred's own commands), and
// the trail file read as `torale-cred audit` reads it. The transient
// systemd unit's case is in packaging/test/systemd-user.sh, where a user
// manager runs.

// firstUseLog is the daemon's log message for a first use.
const firstUseLog = "a program received a profile's key for the first time"

// need is the path of a program the case runs; missing, the case is
// skipped (failed in CI, which has them all).
func need(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if inCI() {
			t.Fatalf("%s is not installed, and CI must run this case (make deps)", name)
		}
		t.Skipf("needs %s", name)
	}
	return p
}

// realExe is the path /proc/PID/exe names for program path p.
func realExe(t *testing.T, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(r)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// trail is the current trail file of state dir dir as it is on disk: the
// lines that are events, and the lines that are not (a torn last line, a
// line without its newline included).
func trail(t *testing.T, dir string) (events []audit.Event, bad []string) {
	t.Helper()
	return trailFile(t, filepath.Join(dir, audit.FileName))
}

// trailFile is trail for one file (the current one, or the rotated ".1").
func trailFile(t *testing.T, path string) (events []audit.Event, bad []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(b, []byte("\n"))
	for i, l := range lines {
		if i == len(lines)-1 {
			if len(l) > 0 {
				bad = append(bad, string(l)+" (no newline)")
			}
			break
		}
		e, err := audit.ParseLine(l)
		if err != nil {
			bad = append(bad, string(l))
			continue
		}
		events = append(events, e)
	}
	return events, bad
}

// auditStats is the daemon's /v1/health audit counters.
func auditStats(t *testing.T, c *ipc.Client) audit.Stats {
	t.Helper()
	h, err := c.Info(t.Context())
	if err != nil {
		t.Fatalf("health: %v", err)
	}
	if h.Audit == nil {
		t.Fatal("health has no audit counters: is the trail on?")
	}
	return *h.Audit
}

// waitWritten waits until the daemon wrote at least n records.
func waitWritten(t *testing.T, c *ipc.Client, n uint64) audit.Stats {
	t.Helper()
	var st audit.Stats
	eventually(t, fmt.Sprintf("%d audit records written", n), func() error {
		if st = auditStats(t, c); st.Written < n {
			return fmt.Errorf("%+v", st)
		}
		return nil
	})
	return st
}

// noKeyIn fails t when a key of w is in any of files or in the daemon's log.
func noKeyIn(t *testing.T, w *world, log string, files ...string) {
	t.Helper()
	if k := w.leak([]byte(log)); k != "" {
		t.Errorf("the daemon's log holds a key (%s)", hint(k))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Errorf("reading %s: %v", f, err)
			continue
		}
		if k := w.leak(b); k != "" {
			t.Errorf("%s holds a key (%s)", filepath.Base(f), hint(k))
		}
	}
}

// putKey stores key for profile through the daemon (a store is no
// hand-out: it writes no audit line).
func putKey(t *testing.T, c *ipc.Client, profile, key string) {
	t.Helper()
	if _, err := c.Put(t.Context(), profile, key, credstore.PutOptions{}); err != nil {
		t.Fatalf("storing %s: %v", profile, err)
	}
}

// curlResolve runs curl against the daemon's /v1/resolve for profile, with
// extra curl arguments, and returns the key it was given and curl's pid.
func curlResolve(t *testing.T, curl, sock, profile string, extra ...string) (key string, pid int) {
	t.Helper()
	args := append([]string{"-sS", "--max-time", "10", "--unix-socket", sock, "-d", `{"profile":"` + profile + `"}`}, extra...)
	cmd := exec.Command(curl, append(args, "http://torale/v1/resolve")...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid = cmd.Process.Pid
	if err := cmd.Wait(); err != nil {
		t.Fatalf("curl: %v: %s", err, errb.String())
	}
	return resolvedKey(t, out.Bytes()), pid
}

func resolvedKey(t *testing.T, body []byte) string {
	t.Helper()
	var r struct {
		Key string `json:"api_key"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("not a resolve answer (%v): %.200q", err, body)
	}
	return r.Key
}

// pyResolve is Python asking over a raw AF_UNIX socket, as a script that
// knows nothing of torale-cred would: it prints its own pid and
// executable, then the answer's body.
const pyResolve = `
import json, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
body = json.dumps({"profile": sys.argv[2]}).encode()
s.sendall(b"POST /v1/resolve HTTP/1.1\r\nHost: torale\r\nContent-Type: application/json\r\n"
          b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
head, _, rest = data.partition(b"\r\n\r\n")
assert head.startswith(b"HTTP/1.1 200"), head
print(json.dumps({"pid": os.getpid(), "exe": os.readlink("/proc/self/exe")}))
print(rest.decode())
`

// pyLookup runs pyResolve: the key Python was given, its pid and its
// executable.
func pyLookup(t *testing.T, python, sock, profile string) (key string, pid int, exe string) {
	t.Helper()
	out, err := exec.Command(python, "-c", pyResolve, sock, profile).Output()
	if err != nil {
		t.Fatalf("python: %v %s", err, exitStderr(err))
	}
	id, rest, _ := bytes.Cut(out, []byte("\n"))
	var py struct {
		PID int    `json:"pid"`
		Exe string `json:"exe"`
	}
	if err := json.Unmarshal(id, &py); err != nil {
		t.Fatalf("python printed %q: %v", id, err)
	}
	return resolvedKey(t, rest), py.PID, py.Exe
}

// wantLine is what one look-up's line must say.
type wantLine struct {
	what, profile, key, door, exe, comm string
	pid                                 int // 0: not known to the test
	ssh                                 bool
}

func (wl wantLine) check(e audit.Event) error {
	c := e.Caller
	switch {
	case c == nil:
		return errors.New("no caller")
	case e.Profile != wl.profile || e.KeyHint != apikey.Hint(wl.key) || e.Door != wl.door || e.Result != audit.ResultOK:
		return fmt.Errorf("profile %q hint %s door %q result %q, want %q %q %q ok", e.Profile, showHint(e.KeyHint), e.Door, e.Result, wl.profile, apikey.Hint(wl.key), wl.door)
	case c.Exe != wl.exe:
		return fmt.Errorf("exe %q, want %q", c.Exe, wl.exe)
	case wl.pid != 0 && c.PID != wl.pid:
		return fmt.Errorf("pid %d, want %d", c.PID, wl.pid)
	case wl.comm != "" && c.Comm != wl.comm:
		return fmt.Errorf("comm %q, want %q", c.Comm, wl.comm)
	case c.UID != os.Getuid():
		return fmt.Errorf("uid %d, want %d", c.UID, os.Getuid())
	case c.SSHLogin != wl.ssh:
		return fmt.Errorf("ssh_login %v, want %v", c.SSHLogin, wl.ssh)
	case c.Unit != peer.Self().Unit:
		// Every program here is a child of the test, in its unit (none
		// outside systemd); systemd-user.sh checks a unit of its own.
		return fmt.Errorf("unit %q, want the test's own %q", c.Unit, peer.Self().Unit)
	}
	return nil
}

// TestAuditNamesEveryCaller asks the daemon for a key from curl, from
// Python over a raw socket, through git's credential helper, from
// torale-cred token, from curl under a parent named sshd,
// and from curl claiming a door of torale-cred's own: each is exactly one
// line of the trail naming its executable (and pid where the test knows
// it), its door and ssh; no line, no seen.json entry and no log line holds
// a key.
func TestAuditNamesEveryCaller(t *testing.T) {
	parallel(t)
	testkeyring.Require(t)
	curl, gitBin, python := need(t, "curl"), need(t, "git"), need(t, "python3")
	// A look-up through torale-cred's own command is judged for the
	// program behind it (peer.Behind): this test binary, which runs it.
	behind := realExe(t, proctest.Self(t))
	// Run over SSH, everything the test starts is: only the sshd case is
	// then no different.
	underSSH := peer.Self().SSHLogin
	w := newWorld(t)
	d := w.Daemon(t, nil)
	key, workKey := newKey(t), newKey(t)
	w.use(key, workKey)
	c := ipc.NewClient(w.Sock, 10*time.Second)
	defer c.Close()
	putKey(t, c, "default", key)
	putKey(t, c, "work", workKey)
	var wants []wantLine
	got := func(what, gotKey, wantKey string) {
		t.Helper()
		if gotKey != wantKey {
			t.Fatalf("%s was given %q, want the key %s", what, apikey.Hint(gotKey), hint(wantKey))
		}
	}

	k, pid := curlResolve(t, curl, w.Sock, "default")
	got("curl", k, key)
	wants = append(wants, wantLine{what: "curl", profile: "default", key: key, door: credstore.DoorSocket, exe: realExe(t, curl), pid: pid, ssh: underSSH})

	// Only torale-cred's own executables may name the door: curl saying
	// "token" is still the socket.
	k, pid = curlResolve(t, curl, w.Sock, "default", "-H", ipc.DoorHeader+": token")
	got("curl naming a door", k, key)
	wants = append(wants, wantLine{what: "curl with " + ipc.DoorHeader + ": token", profile: "default", key: key, door: credstore.DoorSocket, exe: realExe(t, curl), pid: pid, ssh: underSSH})

	k, pid, pyExe := pyLookup(t, python, w.Sock, "work")
	got("python", k, workKey)
	wants = append(wants, wantLine{what: "python raw socket", profile: "work", key: workKey, door: credstore.DoorSocket, exe: pyExe, pid: pid, ssh: underSSH})

	// git credential fill with credential.helper torale: git runs the
	// shipped git-credential-torale, which asks the daemon and names the
	// door "git".
	gitcfg := filepath.Join(w.Base, "gitconfig")
	writeFile(t, gitcfg, "[credential]\n\thelper = torale\n")
	cmd := exec.Command(gitBin, "credential", "fill")
	cmd.Env = append(w.Env(), "PATH="+w.Bin+string(os.PathListSeparator)+os.Getenv("PATH"), "GIT_CONFIG_GLOBAL="+gitcfg,
		"GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
	cmd.Stdin = strings.NewReader("protocol=https\nhost=api.torale.ai\n\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git credential fill: %v %s", err, exitStderr(err))
	}
	if !strings.Contains(string(out), "\npassword="+key+"\n") {
		t.Fatalf("git credential fill gave no password for the key %s", hint(key))
	}
	wants = append(wants, wantLine{what: "git credential fill", profile: "default", key: key, door: credstore.DoorGit, exe: gitExe(t, gitBin), comm: "git", ssh: underSSH})

	// torale-cred's own commands, through the daemon.
	stdout, errOut, code := w.CLI(t, "", nil, "token", "--profile", "work")
	if code != 0 {
		t.Fatalf("token: %d %s", code, errOut)
	}
	got("torale-cred token", strings.TrimSpace(stdout), workKey)
	wants = append(wants, wantLine{what: "torale-cred token", profile: "work", key: workKey, door: credstore.DoorToken, exe: behind, ssh: underSSH})

	// SSH: curl whose parent is a shell named sshd (a copy of /bin/sh),
	// kept alive as its parent until curl ends.
	sshd := filepath.Join(t.TempDir(), "sshd")
	copyFile(t, realExe(t, "/bin/sh"), sshd, 0o755)
	out, err = exec.Command(sshd, "-c", `"$0" -sS --max-time 10 --unix-socket "$1" -d '{"profile":"default"}' http://torale/v1/resolve & p=$!; wait $p; rc=$?; printf '\npid=%s\n' "$p"; exit $rc`,
		curl, w.Sock).Output()
	if err != nil {
		t.Fatalf("curl under sshd: %v %s", err, exitStderr(err))
	}
	body, pidLine, _ := bytes.Cut(bytes.TrimSpace(out), []byte("\npid="))
	sshPID, err := strconv.Atoi(string(pidLine))
	if err != nil {
		t.Fatalf("curl under sshd printed %q", out)
	}
	got("curl under sshd", resolvedKey(t, body), key)
	wants = append(wants, wantLine{what: "curl under a parent named sshd", profile: "default", key: key, door: credstore.DoorSocket, exe: realExe(t, curl), pid: sshPID, ssh: true})

	if err := d.Stop(t); err != nil {
		t.Fatalf("daemon stop: %v", err)
	}
	events, bad := trail(t, w.State)
	if len(bad) > 0 {
		t.Errorf("%d lines of the trail are not events: %q", len(bad), bad)
	}
	// The setup's stored keys are lines too (action "store"): only the
	// look-ups are compared here.
	events = slices.DeleteFunc(events, func(e audit.Event) bool { return e.Action != "" })
	if len(events) != len(wants) {
		t.Errorf("%d lines for %d look-ups", len(events), len(wants))
	}
	for i, wl := range wants {
		if i >= len(events) {
			t.Errorf("%s: no line", wl.what)
			continue
		}
		if err := wl.check(events[i]); err != nil {
			t.Errorf("%s: %v; line %+v", wl.what, err, *events[i].Caller)
		}
	}
	noKeyIn(t, w, d.Stderr.String(), filepath.Join(w.State, audit.FileName), filepath.Join(w.State, audit.SeenFileName))
	report.add("Audit trail", "one look-up each from curl, curl naming a door, Python (raw AF_UNIX), git credential fill, token, curl under sshd",
		"one line each: the right exe, pid, door (socket for any other program), ssh; no key in trail, seen.json, log",
		fmt.Sprintf("%d lines for %d look-ups, %d not events", len(events), len(wants), len(bad)), okStr(!t.Failed()))
}

// showHint quotes a line's key_hint, unless it is no hint (it could be
// the key a broken trail wrote): a test's output holds no key either.
func showHint(h string) string {
	if len(h) == len("sk_...12345") && strings.HasPrefix(h, "sk_...") {
		return strconv.Quote(h)
	}
	return fmt.Sprintf("(not a hint: %d characters)", len(h))
}

func exitStderr(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeProgram(t, to, b, mode)
}

// TestAuditFirstUse serves notifications on a private session bus (with a
// keyring of its own): the first look-up by a new executable logs one
// first-use line and sends one notification; the same executable again
// does neither, another executable (Python) does once; and a restarted daemon remembers
// (seen.json).
func TestAuditFirstUse(t *testing.T) {
	testkeyring.Require(t)
	curl, python := need(t, "curl"), need(t, "python3")
	bus := testkeyring.PrivateBus(t)
	testkeyring.StartKeyring(t, bus, t.TempDir(), "torale-test")
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", bus)
	srv := notifytest.Serve(t)
	w := newWorld(t)
	env := []string{"DBUS_SESSION_BUS_ADDRESS=" + bus}
	d := w.Daemon(t, env)
	key := newKey(t)
	w.use(key)
	c := ipc.NewClient(w.Sock, 10*time.Second)
	defer c.Close()
	putKey(t, c, "default", key)
	curlExe := realExe(t, curl)
	// settle is longer than a flush and the notification's own send.
	const settle = 300 * time.Millisecond
	firstUses := func(p *proctest.Proc) int { return strings.Count(p.Stderr.String(), firstUseLog) }
	waitCalls := func(n int) []notifytest.Call {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		calls, err := srv.WaitCalls(ctx, n)
		if err != nil {
			t.Fatalf("waiting for notification %d: %v (got %d)", n, err, len(srv.Calls()))
		}
		return calls
	}

	if k, _ := curlResolve(t, curl, w.Sock, "default"); k != key {
		t.Fatal("curl was not given the key")
	}
	waitWritten(t, c, 1)
	calls := waitCalls(1)
	if !strings.Contains(calls[0].Body, curlExe) || !strings.Contains(calls[0].Body, apikey.Hint(key)) || !strings.Contains(calls[0].Body, "first time") {
		t.Errorf("the first-use notification says %q %q, want curl's path and the key's hint", calls[0].Title, calls[0].Body)
	}
	eventually(t, "one first-use log line", func() error {
		if n := firstUses(d); n != 1 {
			return fmt.Errorf("%d first-use lines", n)
		}
		return nil
	})
	if !strings.Contains(d.Stderr.String(), "exe="+curlExe) {
		t.Errorf("the first-use log line does not name %s:\n%s", curlExe, d.Stderr.String())
	}

	// The same program again: nothing new.
	curlResolve(t, curl, w.Sock, "default")
	waitWritten(t, c, 2)
	time.Sleep(settle)
	if n, m := firstUses(d), len(srv.Calls()); n != 1 || m != 1 {
		t.Errorf("after a second look-up by curl: %d first-use lines and %d notifications, want 1 and 1", n, m)
	}

	// Another program: its own first use.
	if k, _, _ := pyLookup(t, python, w.Sock, "default"); k != key {
		t.Fatal("python was not given the key")
	}
	_, _, pyExe := pyLookup(t, python, w.Sock, "default")
	waitWritten(t, c, 4)
	calls = waitCalls(2)
	if !strings.Contains(calls[1].Body, pyExe) {
		t.Errorf("the second first-use notification says %q, want %s", calls[1].Body, pyExe)
	}
	time.Sleep(settle)
	if n, m := firstUses(d), len(srv.Calls()); n != 2 || m != 2 {
		t.Errorf("after python twice: %d first-use lines and %d notifications, want 2 and 2", n, m)
	}

	// A restarted daemon remembers both programs.
	if err := d.Stop(t); err != nil {
		t.Fatal(err)
	}
	d2 := w.Daemon(t, env)
	c2 := ipc.NewClient(w.Sock, 10*time.Second)
	defer c2.Close()
	curlResolve(t, curl, w.Sock, "default")
	waitWritten(t, c2, 1)
	time.Sleep(settle)
	if n, m := firstUses(d2), len(srv.Calls()); n != 0 || m != 2 {
		t.Errorf("after a restart, curl again: %d first-use lines and %d notifications in all, want 0 and 2", n, m)
	}
	for _, call := range srv.Calls() {
		if k := w.leak([]byte(call.Title + call.Body)); k != "" {
			t.Errorf("a notification holds the key %s", hint(k))
		}
	}
	noKeyIn(t, w, d.Stderr.String()+d2.Stderr.String(), filepath.Join(w.State, audit.SeenFileName))
	report.add("Audit trail", "first-use alert: curl twice, Python twice, a restart, curl again",
		"one log line and one notification per new executable, none for one already seen (also after a restart)",
		fmt.Sprintf("%d notifications, %d+%d first-use log lines", len(srv.Calls()), firstUses(d), firstUses(d2)), okStr(!t.Failed()))
}

// TestAuditSurvivesSIGKILL kills the daemon while clients keep asking
// (flat out, then paced so that the flush interval, not the batch size,
// decides when lines are written): the trail is whole lines of valid JSON,
// and every record the daemon had written before the kill is there. How
// much was still waiting (what the last flush intervals held, 100 ms
// each) depends on this machine's speed: it is measured and reported,
// against that target. A torn last line, as a kill in the middle of a
// write leaves, is cut off when the next daemon opens the trail, so its
// first line is whole too.
func TestAuditSurvivesSIGKILL(t *testing.T) {
	parallel(t)
	testkeyring.Require(t)
	clients, burst := 8, 500*time.Millisecond
	if full() {
		clients, burst = 64, 5*time.Second
	}
	w := newWorld(t)
	d := w.Daemon(t, nil)
	key := newKey(t)
	w.use(key)
	c := ipc.NewClient(w.Sock, 10*time.Second)
	defer c.Close()
	putKey(t, c, "default", key)

	ctx, stop := context.WithCancel(credstore.WithDoor(t.Context(), credstore.DoorToken))
	defer stop()
	var mu sync.Mutex
	var answered []time.Time // when each answer with the key arrived
	var wrong atomic.Int64
	// Flat out, a 64 KiB batch fills in milliseconds and is written at
	// once; paced, the last records wait for the 100 ms flush, which is
	// what a crash may lose.
	var paced atomic.Bool
	var answeredN atomic.Int64
	// flatOut bounds the flat-out look-ups: their lines (~250 bytes) stay
	// under twice the trail's 8 MiB, so one rotation at most and every line
	// is still in audit.jsonl or audit.jsonl.1.
	const flatOut = 40000
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			c := ipc.NewClient(w.Sock, 10*time.Second)
			defer c.Close()
			var mine []time.Time
			for ctx.Err() == nil {
				r, err := c.Resolve(credstore.WithDoor(ctx, credstore.DoorToken), credstore.Request{Profile: "default"})
				switch {
				case err == nil && r.Key == key:
					mine = append(mine, time.Now())
					answeredN.Add(1)
				case err == nil:
					wrong.Add(1)
				}
				if paced.Load() || answeredN.Load() >= flatOut {
					time.Sleep(20 * time.Millisecond)
				}
			}
			mu.Lock()
			answered = append(answered, mine...)
			mu.Unlock()
		})
	}
	time.Sleep(burst)
	// Paced, 50 a second each, a batch takes longer than a flush to fill.
	// Sampled all along, what is answered but not yet written stays within
	// a flush interval's worth (plus slack), not just at the moment of the
	// kill.
	paced.Store(true)
	time.Sleep(100 * time.Millisecond)
	var maxPending, samples int64
	pacedFrom, pacedN := time.Now(), answeredN.Load()
	for time.Since(pacedFrom) < 600*time.Millisecond {
		a := answeredN.Load()
		if p := a - int64(auditStats(t, c).Written); p > maxPending {
			maxPending = p
		}
		samples++
		time.Sleep(10 * time.Millisecond)
	}
	rate := float64(answeredN.Load()-pacedN) / time.Since(pacedFrom).Seconds()
	before := auditStats(t, c)
	killed := time.Now()
	if err := d.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	derr := <-d.Done
	d.Done <- derr
	stop()
	wg.Wait()
	if wrong.Load() > 0 {
		t.Errorf("%d answers with a wrong key", wrong.Load())
	}

	// The report's target: the flush interval (100 ms) and some slack for
	// a loaded machine. Measured against it, not failed on: a loaded
	// machine's writer lags by however long it is kept off the CPU.
	const window = 100*time.Millisecond + 150*time.Millisecond
	withinWindow := maxPending <= int64(rate*window.Seconds())+int64(clients)
	var recent int
	for _, a := range answered {
		if a.After(killed.Add(-window)) {
			recent++
		}
	}
	events, bad := trail(t, w.State)
	torn := len(bad) == 1 && strings.HasSuffix(bad[0], "(no newline)")
	if len(bad) > 0 && !torn {
		t.Errorf("after SIGKILL, %d lines of the trail are not events (only a torn last line may be): %.300q", len(bad), bad)
	}
	rotated, rbad := trailFile(t, filepath.Join(w.State, audit.FileName+".1"))
	if len(rbad) > 0 {
		t.Errorf("after SIGKILL, %d lines of the rotated trail are not events: %.300q", len(rbad), rbad)
	}
	lines := len(rotated) + len(events)
	lost := len(answered) - lines
	if lines < int(before.Written) {
		t.Errorf("after SIGKILL: %d lines, fewer than the %d records the daemon had written before the kill", lines, before.Written)
	}
	withinWindow = withinWindow && lost <= recent
	// A look-up recorded but whose answer never arrived: one per client.
	if -lost > clients {
		t.Errorf("after SIGKILL: %d lines for %d answered look-ups by %d clients", lines, len(answered), clients)
	}
	if before.Dropped > 0 || before.Failed > 0 {
		t.Errorf("before the kill the daemon had dropped %d and failed %d records", before.Dropped, before.Failed)
	}

	// What a kill inside a write leaves: half a line, no newline. The next
	// daemon must cut it before it appends.
	path := filepath.Join(w.State, audit.FileName)
	if !torn && len(events) > 0 {
		last, _ := json.Marshal(events[len(events)-1])
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(last[:len(last)/2]); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	d2 := w.Daemon(t, nil)
	c2 := ipc.NewClient(w.Sock, 10*time.Second)
	defer c2.Close()
	if _, err := c2.Resolve(tokenCtx(t), credstore.Request{Profile: "default"}); err != nil {
		t.Fatal(err)
	}
	waitWritten(t, c2, 1)
	if err := d2.Stop(t); err != nil {
		t.Fatal(err)
	}
	after, bad := trail(t, w.State)
	if _, readBad, err := audit.Read(w.State, audit.Filter{}); err != nil || readBad != 0 || len(bad) != 0 {
		t.Errorf("after the restart, audit.Read finds %d bad lines (%v), the file %d: %.300q", readBad, err, len(bad), bad)
	}
	if len(after) != len(events)+1 || after[len(after)-1].Time.Before(killed) {
		t.Errorf("after the restart: %d lines, want the %d kept and the new one", len(after), len(events))
	}
	t.Logf("%d clients, %s: %d answered, %d lines kept (%d rotated), %d lost (%d answered in the last %s), torn tail by the kill itself: %v; paced at %.0f/s: at most %d answered and unwritten in %d samples; within the last flush's worth: %v",
		clients, burst, len(answered), lines, len(rotated), lost, recent, window, torn, rate, maxPending, samples, withinWindow)
	report.add("Audit trail", fmt.Sprintf("SIGKILL of the daemon under %d clients after %s flat out and 700 ms paced", clients, burst),
		"whole JSON lines only; every record written before the kill kept; at most the last flush (100 ms) lost; a torn tail cut by the next daemon",
		fmt.Sprintf("%d answered, %d lines, %d lost (%d answered in the last %s); paced at %.0f/s at most %d unwritten; 0 bad lines after the restart", len(answered), lines, lost, recent, window, rate, maxPending),
		okStr(!t.Failed() && withinWindow))
}

// tokenCtx is a look-up context naming the token door, as torale-cred token's
// is. The daemon (the shipped program) heeds a door only from its own
// executables, so from this test binary the look-up is the socket's.
func tokenCtx(t *testing.T) context.Context {
	return credstore.WithDoor(t.Context(), credstore.DoorToken)
}

// TestAuditDiskFull puts the state directory on a tiny tmpfs and fills it:
// look-ups keep answering with the key, /v1/health's audit.failed grows,
// the daemon logs the failure once, not per record, and writes again once
// space is freed, the file whole lines throughout.
func TestAuditDiskFull(t *testing.T) {
	parallel(t)
	testkeyring.Require(t)
	w := newWorld(t)
	if err := os.MkdirAll(w.State, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", w.State, "tmpfs", 0, "size=64k,mode=0700"); err != nil {
		if inCI() {
			t.Fatalf("mounting a tmpfs on the state dir: %v (CI runs as root and must run this case)", err)
		}
		t.Skipf("cannot mount a tmpfs (%v): run as root to test a full disk", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(w.State, unix.MNT_DETACH) })
	d := w.Daemon(t, nil)
	key := newKey(t)
	w.use(key)
	c := ipc.NewClient(w.Sock, 10*time.Second)
	defer c.Close()
	putKey(t, c, "default", key)
	lookups := func(n int) {
		t.Helper()
		for i := range n {
			r, err := c.Resolve(tokenCtx(t), credstore.Request{Profile: "default"})
			if err != nil || r.Key != key {
				t.Fatalf("look-up %d on a full disk: %v (key given: %v)", i, err, r.Key == key)
			}
		}
	}
	// The first look-up writes the trail and seen.json while there is room
	// (after the PUT's own line: a write through the socket is recorded).
	lookups(1)
	waitWritten(t, c, 2)

	filler := filepath.Join(w.State, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{4096, 1} { // pages, then the last bytes
		block := make([]byte, size)
		for {
			if _, err := f.Write(block); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatal(err)
				}
				break
			}
		}
	}
	f.Close()

	// Several batches, well past what the trail's last page still holds.
	const perRound, rounds = 40, 3
	for range rounds {
		lookups(perRound)
		time.Sleep(300 * time.Millisecond) // more than a flush: one batch a round
	}
	onFull := auditStats(t, c)
	if onFull.Failed == 0 {
		t.Errorf("on a full disk: %+v, want audit.failed > 0", onFull)
	}
	if onFull.Written+onFull.Failed != 2+perRound*rounds {
		t.Errorf("on a full disk: %+v: written + failed should be the PUT and the %d look-ups", onFull, 1+perRound*rounds)
	}
	logged := strings.Count(d.Stderr.String(), "audit trail: cannot write")
	if logged != 1 {
		t.Errorf("the failure was logged %d times, want once:\n%s", logged, d.Stderr.String())
	}
	if _, bad := trail(t, w.State); len(bad) > 0 {
		t.Errorf("on a full disk the trail has %d lines that are not events: %.300q", len(bad), bad)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	lookups(5)
	again := waitWritten(t, c, onFull.Written+5)
	if again.Failed != onFull.Failed {
		t.Errorf("with space again, %d more records failed", again.Failed-onFull.Failed)
	}
	eventually(t, "the daemon says it writes again", func() error {
		if !strings.Contains(d.Stderr.String(), "audit trail: writing again") {
			return errors.New("not yet")
		}
		return nil
	})
	events, bad := trail(t, w.State)
	if len(bad) > 0 {
		t.Errorf("after the disk was full the trail has %d lines that are not events: %.300q", len(bad), bad)
	}
	if uint64(len(events)) != again.Written {
		t.Errorf("the trail has %d lines, the daemon counted %d written", len(events), again.Written)
	}
	// The tmpfs goes before the world's hygiene check: grep it now.
	noKeyIn(t, w, d.Stderr.String(), filepath.Join(w.State, audit.FileName), filepath.Join(w.State, audit.SeenFileName))
	report.add("Audit trail", fmt.Sprintf("state dir on a 64 KiB tmpfs, filled, %d look-ups in %d batches, then space freed", perRound*rounds, rounds),
		"every look-up answered with the key; audit.failed grows; logged once; written again after; whole lines",
		fmt.Sprintf("full: %+v, logged %d time(s); after: %+v, %d lines", onFull, logged, again, len(events)), okStr(!t.Failed()))
}

// gitExe is the git that runs a helper: the one in git's exec path (git
// runs its subcommands from there), resolved.
func gitExe(t *testing.T, git string) string {
	t.Helper()
	out, err := exec.Command(git, "--exec-path").Output()
	if err != nil {
		t.Fatal(err)
	}
	return realExe(t, filepath.Join(strings.TrimSpace(string(out)), "git"))
}
