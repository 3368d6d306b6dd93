//go:build linux && !race

package doors

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/internal/audit"
	"github.com/torale-ai/torale-cred/internal/notify/notifytest"
	"github.com/torale-ai/torale-cred/internal/proctest"
	"github.com/torale-ai/torale-cred/internal/testkeyring"
	"github.com/torale-ai/torale-cred/internal/toraleapi/fakeapi"
)

// trustPolicy is one profile policy the table runs every door through.
type trustPolicy struct {
	name string
	// args follow `torale-cred policy set default`.
	args func(ex callerExes) []string
	// answer is what the desktop answers a confirm question ("" nothing).
	answer string
	// late: nobody answers, so each look-up waits out the daemon's whole
	// confirm wait; the rows then run at once, to wait it out once.
	late bool
	// handed: the key goes out (and a write goes in).
	handed bool
}

// asks says whether the policy puts a question to the desktop.
func (p trustPolicy) asks() bool { return p.args(callerExes{})[0] == "confirm" }

// notCaller is an executable no row runs.
const notCaller = "/usr/local/bin/not-the-caller"

var trustPolicies = []trustPolicy{
	{name: "open", args: func(callerExes) []string { return []string{"open"} }, handed: true},
	{name: "allow another exe", args: func(callerExes) []string { return []string{"allow", notCaller} }},
	{name: "allow the caller's exe", args: func(ex callerExes) []string {
		return []string{"allow", ex.curl, ex.shell, ex.self, ex.git}
	}, handed: true},
	{name: "confirm allow_once", args: confirmArgs, answer: "allow_once", handed: true},
	{name: "confirm deny", args: confirmArgs, answer: "deny"},
	{name: "confirm late", args: confirmArgs, late: true},
}

func confirmArgs(callerExes) []string { return []string{"confirm"} }

// callerExes are the executables the daemon must name as callers, as
// /proc shows them (symlinks resolved).
type callerExes struct {
	curl, shell, git string
	self             string // this test binary: it runs torale-cred for exec, status --verify and rotate
}

// trustDoor is one row: a door with its kind of caller. run performs it,
// asserts the outcome under a policy that does (handed) or does not hand
// the key out, and returns the trail lines it must have added, in order.
type trustDoor struct {
	name string
	run  func(t *testing.T, b *boundary, handed bool) []lineWant
}

var trustDoors = []trustDoor{
	{"curl /v1/resolve", curlResolve},
	{"script runs token", scriptToken},
	{"exec", execDoor},
	{"git credential fill", gitFill},
	{"status --verify", statusVerify},
	{"rotate", rotateDoor},
	{"curl PUT", curlPut},
}

// lineWant is one trail line a row must add.
type lineWant struct {
	door, action, result, via string
	exe                       string
	pid                       int // 0: not known to the test
	hint                      string
}

// trailLine is a line of audit.jsonl as written, read with the field
// names SPEC gives (not through package audit's own decoder).
type trailLine struct {
	Profile string `json:"profile"`
	KeyHint string `json:"key_hint"`
	Door    string `json:"door"`
	Action  string `json:"action"`
	Result  string `json:"result"`
	Caller  *struct {
		PID int    `json:"pid"`
		UID int    `json:"uid"`
		Exe string `json:"exe"`
		Via string `json:"via"`
	} `json:"caller"`
	raw string
}

// boundary is one policy's world: a daemon, the stored key, and a stand-in
// Torale API that records every key it is sent.
type boundary struct {
	w     *proctest.World
	ex    callerExes
	desk  *notifytest.Server
	api   *fakeapi.Server
	front *httptest.Server // the stand-in's address: records, then passes to api
	mu    sync.Mutex
	seen  []string // Authorization headers the stand-in received
	key   string   // the key stored for profile default now
	keys  []string // every key of this world, to keep out of logs
}

func (b *boundary) sawRequests() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.seen...)
}

// hide replaces every key of the world in s by its hint.
func (b *boundary) hide(s string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, k := range b.keys {
		s = strings.ReplaceAll(s, k, apikey.Hint(k))
	}
	return hideKeys(s)
}

// TestTrustBoundary runs the trust boundary as a table: every door with
// its kind of caller (curl on the socket, a script running token, exec,
// git, status --verify, rotate, a PUT) under every policy (open, allow
// another program, allow the caller's own, confirm answered allow once,
// deny, or not at all). Each row asserts what came out (key printed, exit
// code, HTTP status; the stand-in API saw the key or nothing) and that
// the daemon's trail gained exactly the line(s) naming the door, the
// result, the caller (the program behind torale-cred's own) and via.
//
// It runs on a private session bus of its own, with a real gnome-keyring
// and a fake notification server that answers the confirm questions.
func TestTrustBoundary(t *testing.T) {
	testkeyring.Require(t)
	for _, exe := range []string{"curl", "git", "dbus-daemon", "gnome-keyring-daemon"} {
		if _, err := exec.LookPath(exe); err != nil {
			t.Fatalf("%s is needed (.ci/deps installs it)", exe)
		}
	}
	bus := testkeyring.PrivateBus(t)
	testkeyring.StartKeyring(t, bus, t.TempDir(), "torale-test")
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", bus) // the daemon's and every command's, and notifytest's
	desktop := notifytest.Serve(t)
	ex := resolveExes(t)

	for _, pol := range trustPolicies {
		t.Run(pol.name, func(t *testing.T) {
			desktop.AutoAnswer(pol.answer)
			b := newBoundary(t, ex, pol)
			b.desk = desktop
			before := len(readTrail(t, b.w))
			var denv []string
			if pol.late {
				denv = []string{"TORALE_CRED_CONFIRM_WAIT=3s"} // the late rows wait this out once
			}
			d := b.w.Daemon(t, denv, "--no-watch")
			var wants [][]lineWant
			if pol.late {
				wants = runAtOnce(t, b, pol)
			} else {
				wants = runInTurn(t, b, pol, before)
			}
			if err := d.Stop(t); err != nil {
				t.Fatalf("daemon stop: %v\n%s", err, b.hide(d.Stderr.String()))
			}
			lines := readTrail(t, b.w)[before:]
			checkAllLines(t, b, lines, wants, pol.late)
		})
	}
}

// runInTurn runs the rows one after the other and checks each row's lines
// as soon as they are written.
func runInTurn(t *testing.T, b *boundary, pol trustPolicy, before int) [][]lineWant {
	var wants [][]lineWant
	n := before
	for _, door := range trustDoors {
		t.Run(door.name, func(t *testing.T) {
			asked := len(questions(b.desk))
			want := door.run(t, b, pol.handed)
			checkAsked(t, b, pol, questions(b.desk)[asked:], want)
			lines := waitTrail(t, b.w, n+len(want))
			got := lines[n:]
			if len(got) != len(want) {
				t.Errorf("the trail gained %d lines, want %d:\n%s", len(got), len(want), b.hide(rawLines(got)))
			} else {
				for i := range want {
					checkLine(t, b, got[i], want[i])
				}
			}
			wants = append(wants, want)
			// Lines beyond this row's are its own too: the next row's
			// start after them (the check once the daemon stops counts all).
			n = max(n+len(want), len(lines))
		})
	}
	return wants
}

// runAtOnce runs every row at the same time: each waits for an answer that
// never comes.
func runAtOnce(t *testing.T, b *boundary, pol trustPolicy) [][]lineWant {
	wants := make([][]lineWant, len(trustDoors))
	var wg sync.WaitGroup
	for i, door := range trustDoors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wants[i] = door.run(t, b, pol.handed)
		}()
	}
	wg.Wait()
	// Every caller was asked about (a process asking twice at once, as
	// this one does for exec, status --verify and rotate, is asked once).
	qs := questions(b.desk)
	for _, w := range wants {
		checkAsked(t, b, pol, qs, w)
	}
	return wants
}

// questions are the confirm questions the desktop was asked (the first-use
// alerts offer no answers).
func questions(desk *notifytest.Server) []notifytest.Call {
	var qs []notifytest.Call
	for _, c := range desk.Calls() {
		if c.Offers("allow_once") {
			qs = append(qs, c)
		}
	}
	return qs
}

// checkAsked: under confirm, the desktop was asked about the row's caller
// (by its executable); under any other policy, nobody was asked.
func checkAsked(t *testing.T, b *boundary, pol trustPolicy, qs []notifytest.Call, want []lineWant) {
	t.Helper()
	if !pol.asks() {
		if len(qs) != 0 {
			t.Errorf("policy %s asked the desktop %d times", pol.name, len(qs))
		}
		return
	}
	for _, w := range want {
		found := false
		for _, q := range qs {
			found = found || strings.Contains(q.Body, w.exe)
		}
		if !found {
			t.Errorf("policy %s did not ask the desktop about %s (door %s); asked %d questions", pol.name, w.exe, w.door, len(qs))
		}
	}
}

// checkAllLines checks the whole trail once the daemon has stopped (every
// line written): exactly the lines wanted, in the rows' order, or, for
// rows that ran at once, each row's line found by its door and action.
func checkAllLines(t *testing.T, b *boundary, lines []trailLine, wants [][]lineWant, anyOrder bool) {
	t.Helper()
	var all []lineWant
	for _, w := range wants {
		all = append(all, w...)
	}
	if len(lines) != len(all) {
		t.Fatalf("the trail holds %d new lines, want %d:\n%s", len(lines), len(all), b.hide(rawLines(lines)))
	}
	if !anyOrder {
		for i := range all {
			checkLine(t, b, lines[i], all[i])
		}
		return
	}
	for _, w := range all {
		var match []trailLine
		for _, l := range lines {
			if l.Door == w.door && l.Action == w.action {
				match = append(match, l)
			}
		}
		if len(match) != 1 {
			t.Errorf("%d lines for door %s action %q, want 1:\n%s", len(match), w.door, w.action, b.hide(rawLines(lines)))
			continue
		}
		checkLine(t, b, match[0], w)
	}
}

func checkLine(t *testing.T, b *boundary, l trailLine, w lineWant) {
	t.Helper()
	c := l.Caller
	if c == nil {
		t.Errorf("trail line without a caller: %s", b.hide(l.raw))
		return
	}
	if l.Profile != credstore.DefaultProfile || l.Door != w.door || l.Action != w.action || l.Result != w.result ||
		c.Exe != w.exe || c.Via != w.via || c.UID != os.Getuid() || (w.pid != 0 && c.PID != w.pid) || (w.hint != "" && l.KeyHint != w.hint) {
		t.Errorf("trail line\n  %s\nwant door %s action %q result %s caller exe %s pid %d via %q hint %s",
			b.hide(l.raw), w.door, w.action, w.result, w.exe, w.pid, w.via, w.hint)
	}
	if w.via == "" && strings.Contains(l.raw, `"via"`) {
		t.Errorf("trail line names a via for a caller that asked the socket itself: %s", b.hide(l.raw))
	}
	for _, k := range b.keys {
		if strings.Contains(l.raw, k) {
			t.Errorf("a trail line holds the key %s", apikey.Hint(k))
		}
	}
}

func rawLines(ls []trailLine) string {
	var sb strings.Builder
	for _, l := range ls {
		sb.WriteString("  " + l.raw + "\n")
	}
	return sb.String()
}

// readTrail reads the daemon's audit.jsonl: its complete lines.
func readTrail(t *testing.T, w *proctest.World) []trailLine {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(w.State, audit.FileName))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		data = data[:i+1]
	} else {
		data = nil
	}
	var out []trailLine
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l trailLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("trail line is not JSON: %v", err)
		}
		l.raw = sc.Text()
		out = append(out, l)
	}
	return out
}

// waitTrail waits until the trail holds n complete lines (the daemon
// writes it asynchronously); it returns what it holds then, or after 15 s.
func waitTrail(t *testing.T, w *proctest.World, n int) []trailLine {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ls := readTrail(t, w)
		if len(ls) >= n || time.Now().After(deadline) {
			return ls
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func resolveExes(t *testing.T) callerExes {
	t.Helper()
	real := func(p string) string {
		t.Helper()
		if !filepath.IsAbs(p) {
			var err error
			if p, err = exec.LookPath(p); err != nil {
				t.Fatal(err)
			}
		}
		r, err := filepath.EvalSymlinks(p)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// git runs its helpers with its exec path first on PATH: the git that
	// asks is the one there (on Debian /usr/lib/git-core/git, a copy of
	// /usr/bin/git, not a link).
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatal(err)
	}
	git := real(filepath.Join(strings.TrimSpace(string(execPath)), "git"))
	return callerExes{curl: real("curl"), shell: real("/bin/sh"), git: git, self: real(self)}
}

// newBoundary makes a world whose profile default holds a key the
// stand-in API knows (stored by login, before the daemon runs) under
// policy pol.
func newBoundary(t *testing.T, ex callerExes, pol trustPolicy) *boundary {
	t.Helper()
	b := &boundary{w: newWorld(t), ex: ex, api: fakeapi.New(t, fakeapi.Documented)}
	b.front = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.seen = append(b.seen, r.Header.Get("Authorization"))
		b.mu.Unlock()
		b.api.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(b.front.Close)
	b.key, _ = b.api.AddKey("torale-cred default", time.Now().Add(-24*time.Hour))
	b.keys = append(b.keys, b.key)
	if out, errOut, code := b.w.CLI(t, b.key, nil, "login"); code != 0 {
		t.Fatalf("login: exit %d\n%s%s", code, b.hide(out), b.hide(errOut))
	}
	if out, errOut, code := b.w.CLI(t, "", nil, append([]string{"policy", "set", credstore.DefaultProfile}, pol.args(ex)...)...); code != 0 {
		t.Fatalf("policy set: exit %d\n%s%s", code, out, errOut)
	}
	return b
}

func (b *boundary) withBin() []string {
	return []string{"PATH=" + b.w.Bin + string(os.PathListSeparator) + os.Getenv("PATH")}
}

func result(handed bool) string {
	if handed {
		return audit.ResultOK
	}
	return audit.ResultDenied
}

// curl runs curl on the daemon's socket and returns its pid, the HTTP
// status and the body.
func (b *boundary) curl(t *testing.T, args ...string) (pid int, status, body string) {
	t.Helper()
	cmd := exec.Command("curl", append([]string{"-sS", "--max-time", "90", "--unix-socket", b.w.Sock, "-w", "\n%{http_code}"}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Error(err)
		return 0, "", ""
	}
	pid = cmd.Process.Pid
	if err := cmd.Wait(); err != nil {
		t.Errorf("curl: %v: %s", err, errOut.String())
	}
	raw := out.String()
	i := strings.LastIndex(raw, "\n")
	if i < 0 {
		t.Errorf("curl: no status in %q", b.hide(raw))
		return pid, "", ""
	}
	return pid, raw[i+1:], raw[:i]
}

func curlResolve(t *testing.T, b *boundary, handed bool) []lineWant {
	key := b.key
	pid, status, body := b.curl(t, "-H", "Content-Type: application/json", "--data-binary", "{}", "http://torale/v1/resolve")
	var res credstore.Resolution
	_ = json.Unmarshal([]byte(body), &res)
	switch {
	case handed && (status != "200" || res.Key != key):
		t.Errorf("curl /v1/resolve: %s %s, want 200 with %s", status, b.hide(body), apikey.Hint(key))
	case !handed && (status != "403" || strings.Contains(body, key) || !strings.Contains(body, `"denied"`)):
		t.Errorf("curl /v1/resolve: %s %s, want 403 denied without the key", status, b.hide(body))
	}
	return []lineWant{{door: credstore.DoorSocket, result: result(handed), exe: b.ex.curl, pid: pid, hint: apikey.Hint(key)}}
}

// scriptToken: a shell script runs torale-cred token; the caller judged is
// the script's shell.
func scriptToken(t *testing.T, b *boundary, handed bool) []lineWant {
	key := b.key
	script := filepath.Join(b.w.Base, "uses-token.sh")
	// The line after token keeps the shell from exec'ing token in its place.
	if err := os.WriteFile(script, []byte("#!/bin/sh\ntorale-cred token\ncode=$?\nexit $code\n"), 0o700); err != nil {
		t.Error(err)
		return nil
	}
	var cmd *exec.Cmd
	var out, errOut bytes.Buffer
	// A fork elsewhere in this process (the late rows run at once) may
	// still hold the script open for writing: ETXTBSY, Go's known race
	// between writing an executable and running it; try again.
	for try := 0; ; try++ {
		cmd = exec.Command(script)
		cmd.Env = append(b.w.Env(), b.withBin()...)
		out.Reset()
		errOut.Reset()
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Start()
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.ETXTBSY) || try == 100 {
			t.Error(err)
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	pid := cmd.Process.Pid
	_ = cmd.Wait()
	code := cmd.ProcessState.ExitCode()
	got := strings.TrimSpace(out.String())
	switch {
	case handed && (code != 0 || got != key):
		t.Errorf("script's token: %q, exit %d (%s); want %s", apikey.Hint(got), code, b.hide(errOut.String()), apikey.Hint(key))
	case !handed && (code != 1 || got != "" || !strings.Contains(errOut.String(), "policy")):
		t.Errorf("script's token: %q, exit %d (%s); want nothing, exit 1, the policy named", apikey.Hint(got), code, b.hide(errOut.String()))
	}
	return []lineWant{{door: credstore.DoorToken, via: credstore.DoorToken, result: result(handed), exe: b.ex.shell, pid: pid, hint: apikey.Hint(key)}}
}

// execDoor: this test runs torale-cred exec, so it is the caller.
func execDoor(t *testing.T, b *boundary, handed bool) []lineWant {
	key := b.key
	out, errOut, code := b.w.CLI(t, "", nil, "exec", "--", "sh", "-c", `printf %s "$TORALE_API_KEY"`)
	switch {
	case handed && (code != 0 || out != key):
		t.Errorf("exec's child saw %q, exit %d (%s); want %s", apikey.Hint(out), code, b.hide(errOut), apikey.Hint(key))
	case !handed && (code != 1 || out != ""):
		t.Errorf("exec: child saw %q, exit %d (%s); want not run, exit 1", apikey.Hint(out), code, b.hide(errOut))
	}
	return []lineWant{{door: credstore.DoorExec, via: credstore.DoorExec, result: result(handed), exe: b.ex.self, pid: os.Getpid(), hint: apikey.Hint(key)}}
}

// gitFill: git credential fill with credential.helper=torale; git (the
// process that ran the helper) is the caller.
func gitFill(t *testing.T, b *boundary, handed bool) []lineWant {
	key := b.key
	gitcfg := filepath.Join(b.w.Base, "gitconfig")
	if err := os.WriteFile(gitcfg, []byte("[credential]\n\thelper = torale\n"), 0o600); err != nil {
		t.Error(err)
		return nil
	}
	cmd := exec.Command("git", "credential", "fill")
	cmd.Env = append(append(b.w.Env(), b.withBin()...), "GIT_CONFIG_GLOBAL="+gitcfg, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=", "SSH_ASKPASS=")
	cmd.Stdin = strings.NewReader("protocol=https\nhost=api.torale.ai\n\n")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	got := ""
	for _, l := range strings.Split(out.String(), "\n") {
		if p, ok := strings.CutPrefix(l, "password="); ok {
			got = p
		}
	}
	switch {
	case handed && (err != nil || got != key):
		t.Errorf("git credential fill: %q, %v (%s); want %s", apikey.Hint(got), err, b.hide(errOut.String()), apikey.Hint(key))
	case !handed && (err == nil || got != ""):
		t.Errorf("git credential fill: %q, %v (%s); want no password and a failure", apikey.Hint(got), err, b.hide(errOut.String()))
	}
	return []lineWant{{door: credstore.DoorGit, via: credstore.DoorGit, result: result(handed), exe: b.ex.git, hint: apikey.Hint(key)}}
}

// statusVerify: status --verify asks the stand-in API with the key, which
// it takes through the hand-out point.
func statusVerify(t *testing.T, b *boundary, handed bool) []lineWant {
	key := b.key
	n := len(b.sawRequests())
	out, errOut, code := b.w.CLI(t, "", []string{"TORALE_API_URL=" + b.front.URL}, "status", "--json", "--verify")
	var rep struct {
		Profiles []struct {
			Name        string `json:"name"`
			User        string `json:"user"`
			VerifyError string `json:"verify_error"`
		} `json:"profiles"`
	}
	_ = json.Unmarshal([]byte(out), &rep)
	user := ""
	if len(rep.Profiles) > 0 {
		user = rep.Profiles[0].User
	}
	saw := b.sawRequests()[n:]
	switch {
	case handed && (code != 0 || user != fakeapi.UserEmail || len(saw) != 1 || saw[0] != "Bearer "+key):
		t.Errorf("status --verify: exit %d, user %q, the API saw %d requests (%s%s); want exit 0, %s, one with %s",
			code, user, len(saw), b.hide(out), b.hide(errOut), fakeapi.UserEmail, apikey.Hint(key))
	case !handed && (code != 1 || user != "" || len(saw) != 0):
		t.Errorf("status --verify: exit %d, user %q, the API saw %d requests (%s%s); want exit 1 and no request",
			code, user, len(saw), b.hide(out), b.hide(errOut))
	}
	return []lineWant{{door: credstore.DoorVerify, via: credstore.DoorVerify, result: result(handed), exe: b.ex.self, pid: os.Getpid(), hint: apikey.Hint(key)}}
}

// rotateDoor: rotate (stdin not a terminal) against the stand-in API. A
// rotation reads the old key, stores the new one and reads it back: three
// lines, each judged; a refused one stops at the first, before any
// request.
func rotateDoor(t *testing.T, b *boundary, handed bool) []lineWant {
	old := b.key
	n := len(b.sawRequests())
	out, errOut, code := b.w.CLI(t, "", []string{"TORALE_API_URL=" + b.front.URL}, "rotate")
	saw := b.sawRequests()[n:]
	line := func(action, hint string) lineWant {
		return lineWant{door: credstore.DoorRotate, via: credstore.DoorRotate, action: action, result: result(handed), exe: b.ex.self, pid: os.Getpid(), hint: hint}
	}
	if !handed {
		if code != 1 || len(saw) != 0 || !b.api.Active(old) {
			t.Errorf("rotate: exit %d, the API saw %d requests (%s%s); want exit 1, no request", code, len(saw), b.hide(out), b.hide(errOut))
		}
		return []lineWant{line("", apikey.Hint(old))}
	}
	newHint := ""
	for _, k := range b.api.Keys() {
		if k.Active {
			newHint = k.Hint
		}
	}
	if code != 0 || b.api.Active(old) || newHint == "" || newHint == apikey.Hint(old) || len(saw) == 0 || saw[0] != "Bearer "+old {
		t.Errorf("rotate: exit %d, old key active %v, new %q (%s%s); want exit 0, the old key revoked", code, b.api.Active(old), newHint, b.hide(out), b.hide(errOut))
	}
	b.key = "" // a key this test does not know: only curlPut follows
	return []lineWant{line("", apikey.Hint(old)), line(audit.ActionStore, newHint), line("", newHint)}
}

// curlPut stores another key through the socket: judged as a store.
func curlPut(t *testing.T, b *boundary, handed bool) []lineWant {
	key2, _ := b.api.AddKey("put", time.Now())
	b.mu.Lock()
	b.keys = append(b.keys, key2)
	b.mu.Unlock()
	body, _ := json.Marshal(map[string]string{"api_key": key2})
	pid, status, resp := b.curl(t, "-X", "PUT", "-H", "Content-Type: application/json", "--data-binary", string(body), "http://torale/v1/credentials/default")
	switch {
	case handed && status != "200":
		t.Errorf("curl PUT: %s %s, want 200", status, b.hide(resp))
	case !handed && (status != "403" || !strings.Contains(resp, `"denied"`)):
		t.Errorf("curl PUT: %s %s, want 403 denied", status, b.hide(resp))
	}
	if !handed {
		// Nothing went in: the stored key is still the old one (status
		// learns its hint only, and writes no line).
		out, _, _ := b.w.CLI(t, "", nil, "status", "--json")
		if !strings.Contains(out, apikey.Hint(b.key)) || strings.Contains(out, apikey.Hint(key2)) {
			t.Errorf("after a refused PUT, status says %s", b.hide(out))
		}
	}
	if handed {
		b.key = key2
	}
	return []lineWant{{door: credstore.DoorSocket, action: audit.ActionStore, result: result(handed), exe: b.ex.curl, pid: pid, hint: apikey.Hint(key2)}}
}
