package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/internal/audit"
	"github.com/torale-ai/torale-cred/internal/bench/sockbench"
	"github.com/torale-ai/torale-cred/ipc"
)

// row is one latency figure.
type row struct {
	name, how string
	st        sockbench.Stats
	err       error // why the figure is missing
	kind      int
}

// Row kinds: what each is compared with besides the floor.
const (
	kindSocket  = iota // in-process client of a socket or library
	kindProcess        // a process started per look-up
)

// results is everything one run measured.
type results struct {
	machine []kv
	quick   bool
	bin     string

	startup    sockbench.Stats
	startupErr error

	rows                              []row
	floor, keepAlive, keychain, token *row
	// keepAliveNoAudit is the same look-up from a daemon without the
	// audit trail (daemon --no-audit), beside it in one series.
	keepAliveNoAudit *row
	// The process rows the goals are judged by.
	procFloor, gitCache, gitHelper, keyreadProc, tokenNoDaemon, gitNoDaemon, rawClient *row
	// rawBlocking and rawHTTP: the minimal client against fixed-answer
	// servers (internal/bench/answer), the daemon's side without its work.
	rawBlocking, rawHTTP *row
	// inits is package initialisation (GODEBUG=inittrace=1) per command.
	inits []initFigure

	tput     []tputResult
	rssIdle  int64
	rssAfter int64
	memIdle  string
	memAfter string
	served   int // look-ups served before rssAfter was read
	// pinned: the latency figures ran with every party on one CPU.
	pinned bool

	idle     time.Duration
	idleStat sockbench.ProcStat
	// idleFloor is the echo server over the same window: an idle Go
	// process holding a socket, what the Go runtime alone costs.
	idleFloor sockbench.ProcStat
	// idleMoments and idleFloorMoments count the idleSlots in which each
	// process woke.
	idleMoments, idleFloorMoments int
	idlePerf                      string // perf stat's count, or why there is none
	idleErr                       error

	// audit is the trail's counters after every look-up above.
	audit audit.Stats
	// tputNoAudit is the largest client count again, against the daemon
	// without the trail (daemon --no-audit), right after the main runs.
	tputNoAudit *tputResult

	exposure    []time.Duration
	exposureErr error
}

type kv struct{ k, v string }

type tputResult struct {
	clients, total int
	rate           float64
	errs           int64
	elapsed        time.Duration
	err            error
}

// runner holds what the steps share.
type runner struct {
	o        options
	progress io.Writer
	tmp      string
	cred     program
	git      program
	res      *results
}

func (r *runner) logf(format string, a ...any) {
	fmt.Fprintf(r.progress, "bench: "+format+"\n", a...)
}

// run measures everything and writes the report to out (and o.out).
func run(ctx context.Context, o options, out, progress io.Writer) error {
	cred, git, err := programs(o.bin)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "torale-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	r := &runner{o: o, progress: progress, tmp: tmp, cred: cred, git: git, res: &results{quick: o.quick, bin: o.bin}}
	r.res.machine = machine(o)
	r.res.idle = o.idle
	start := time.Now()

	w, err := newWorld(tmp, "main")
	if err != nil {
		return err
	}
	defer func() { _ = keyring.DeleteAll(w.service) }()
	key := randomKey()

	if err := r.startup(ctx, w, key); err != nil {
		return err
	}
	if err := r.lookups(ctx, w, key); err != nil {
		return err
	}
	r.exposure(ctx)
	r.res.machine = append(r.res.machine, kv{"load average at the end", loadavg()}, kv{"run time", time.Since(start).Round(time.Second).String()})

	var doc bytes.Buffer
	render(&doc, r.res)
	if _, err := out.Write(doc.Bytes()); err != nil {
		return err
	}
	if o.out != "" {
		if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(o.out, doc.Bytes(), 0o644); err != nil {
			return err
		}
		r.logf("wrote %s", o.out)
	}
	return ctx.Err()
}

// startup times `torale-cred daemon` from process start to READY=1 on a
// NOTIFY_SOCKET bound here, o.starts times, and stores the bench key on
// the first run.
func (r *runner) startup(ctx context.Context, w *world, key string) error {
	r.logf("start-up to READY=1, %d starts", r.o.starts)
	n, err := listenNotify(r.tmp)
	if err != nil {
		return err
	}
	defer n.c.Close()
	var ds []time.Duration
	for i := range r.o.starts {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		n.drain()
		t0 := time.Now()
		p, err := startDaemon(r.cred, w, "NOTIFY_SOCKET="+n.path)
		if err != nil {
			return err
		}
		at, err := n.wait("READY=1", 15*time.Second)
		if err != nil {
			_ = p.stop()
			r.res.startupErr = fmt.Errorf("%w: %s", err, p.stderr.String())
			break
		}
		ds = append(ds, at.Sub(t0))
		if i == 0 {
			if err := waitHealthy(ctx, p, w.sock); err != nil {
				_ = p.stop()
				return err
			}
			c := ipc.NewClient(w.sock, 0)
			now := time.Now()
			_, err := c.Put(ctx, credstore.DefaultProfile, key, credstore.PutOptions{Source: credstore.SourceLogin, CreatedAt: &now})
			c.Close()
			if err != nil {
				_ = p.stop()
				return fmt.Errorf("storing the bench key through the daemon: %w", err)
			}
		}
		if err := p.stop(); err != nil {
			return fmt.Errorf("stopping the daemon: %w\n%s", err, p.stderr.String())
		}
	}
	if len(ds) > 0 {
		r.res.startup = stats(ds)
	}
	if r.res.startupErr == nil && len(ds) == 0 {
		r.res.startupErr = errors.New("no start measured")
	}
	return nil
}

// stats summarises durations (p50 is the median).
func stats(ds []time.Duration) sockbench.Stats {
	s := slices.Clone(ds)
	slices.Sort(s)
	var total time.Duration
	for _, d := range s {
		total += d
	}
	return sockbench.Stats{N: len(s), P50: s[len(s)/2], P99: s[min(len(s)-1, len(s)*99/100)], Avg: total / time.Duration(len(s))}
}

// lookups runs the long-lived daemon and every look-up figure against it:
// latencies, throughput, memory, then the idle watch.
func (r *runner) lookups(ctx context.Context, w *world, key string) error {
	echoSock := filepath.Join(r.tmp, "echo.sock")
	self, err := os.Executable()
	if err != nil {
		return err
	}
	echo := exec.Command(self, echoSock)
	// The daemon runs on one P (daemon.Config.MaxProcs); so does the floor,
	// so the two differ only in what they do per request. With two Ps the
	// echo's latency swung between 16 and 34 µs from run to run.
	echo.Env = append(os.Environ(), roleEnv+"="+roleEcho, "GOMAXPROCS=1")
	echo.Stderr = os.Stderr
	if err := echo.Start(); err != nil {
		return err
	}
	defer func() { _ = echo.Process.Kill(); _ = echo.Wait() }()

	p, err := startDaemon(r.cred, w)
	if err != nil {
		return err
	}
	defer func() { _ = p.stop() }()
	if err := waitHealthy(ctx, p, w.sock); err != nil {
		return err
	}
	// The same daemon without the audit trail, for what auditing costs.
	sockNA := filepath.Join(filepath.Dir(w.sock), "noaudit.sock")
	pna, err := startDaemonArgs(r.cred, w, []string{"--socket", sockNA, "--no-audit", "--no-watch"})
	if err != nil {
		return err
	}
	defer func() { _ = pna.stop() }()
	if err := waitHealthy(ctx, pna, sockNA); err != nil {
		return err
	}
	if err := sockbench.WaitSocket(echoSock, 10*time.Second); err != nil {
		return err
	}
	// The answer is right before anything is timed.
	c := ipc.NewClient(w.sock, 0)
	ans, err := c.Resolve(credstore.WithDoor(ctx, credstore.DoorToken), credstore.Request{Profile: credstore.DefaultProfile})
	c.Close()
	if err != nil {
		return fmt.Errorf("first look-up: %w", err)
	}
	if ans.Key != key || ans.KeySource != credstore.FromKeychain {
		return fmt.Errorf("first look-up answered source %q and another key", ans.KeySource)
	}
	time.Sleep(time.Second)
	r.res.rssIdle, _ = sockbench.RSS(p.pid())
	r.res.memIdle = sockbench.MemDetail(p.pid())

	req := sockbench.RequestBytes("/v1/resolve", sockbench.ResolveBody)
	n := r.o.n

	ec, err := sockbench.DialEcho(echoSock, len(req))
	if err != nil {
		return err
	}
	defer ec.Close()
	sc, err := sockbench.Dial(w.sock, req)
	if err != nil {
		return err
	}
	defer sc.Close()
	scNA, err := sockbench.Dial(sockNA, req)
	if err != nil {
		return err
	}
	defer scNA.Close()

	// First as the scheduler places things, then with the client thread,
	// the echo and the daemon on one CPU (sockbench.PinProcess says why):
	// the pinned figures are the ones the ratios use.
	r.logf("socket look-ups, unpinned: echo floor and keep-alive taking turns in blocks of 500 (%d each)", n)
	free, err := sockbench.Interleave(n, 1000, 500, ec.Do, sc.Do)
	if err != nil {
		return fmt.Errorf("socket look-ups: %w", err)
	}
	unpin, pinErr := pinAll([]int{0}, echo.Process.Pid, p.pid(), pna.pid())
	r.res.pinned = pinErr == nil
	if pinErr != nil {
		r.logf("not pinned (%v): the figures below are unpinned too", pinErr)
	}
	r.logf("socket look-ups on one CPU: echo floor, keep-alive and keep-alive without the audit trail taking turns in blocks of 500, then new connections (%d each)", n)
	sts, err := sockbench.Interleave(n, 1000, 500, ec.Do, sc.Do, scNA.Do)
	if err != nil {
		unpin()
		return fmt.Errorf("socket look-ups: %w", err)
	}
	// New connections leave garbage behind them (a connection's buffers
	// and goroutine): measured apart, so the keep-alive figure, the one
	// compared with the floor, does not pay for their collection.
	nc, err := sockbench.Measure(n, 200, func() error { return sockbench.OneShot(w.sock, req) })
	if err != nil {
		unpin()
		return fmt.Errorf("new-connection look-ups: %w", err)
	}
	noAudit := sts[2]
	sts = append(sts[:2], nc)
	where := ""
	if r.res.pinned {
		where = "; client, echo and daemon on one CPU"
	}
	r.addRow(row{name: "raw Unix-socket echo (the floor)", how: "round trip of a request's bytes to a separate process, one connection" + where, st: sts[0], kind: kindSocket})
	r.res.floor = r.last()
	r.addRow(row{name: "`/v1/resolve`, keep-alive", how: "synchronous HTTP/1.1 client, one connection" + where, st: sts[1], kind: kindSocket})
	r.res.keepAlive = r.last()
	r.addRow(row{name: "`/v1/resolve`, keep-alive, audit trail off", how: "the same look-up from a second daemon run with `--no-audit`, taking turns with the row above" + where, st: noAudit, kind: kindSocket})
	r.res.keepAliveNoAudit = r.last()
	r.addRow(row{name: "`/v1/resolve`, new connection", how: "connect, one request, close" + where, st: sts[2], kind: kindSocket})
	if r.res.pinned {
		r.addRow(row{name: "raw Unix-socket echo, unpinned", how: "the floor, every process on any CPU (taking turns with the row below)", st: free[0], kind: kindSocket})
		r.addRow(row{name: "`/v1/resolve`, keep-alive, unpinned", how: "every process on any CPU", st: free[1], kind: kindSocket})
	}

	r.logf("direct go-keyring reads (%d)", r.o.keychainN)
	st, err := sockbench.Measure(r.o.keychainN, 5, func() error {
		k, err := keyring.Get(w.service, credstore.DefaultProfile)
		if err == nil && k != key {
			err = errors.New("the keychain answered another key")
		}
		return err
	})
	unpin()
	r.addRow(row{name: "direct go-keyring read", how: "in process, D-Bus to the Secret Service (what every tool pays without the daemon)", st: st, err: err, kind: kindSocket})
	r.res.keychain = r.last()

	r.procRows(ctx, w, key)

	for i, t := range r.o.tput {
		r.logf("throughput: %d clients, %d look-ups", t.clients, t.total)
		tr := tputResult{clients: t.clients, total: t.total}
		t0 := time.Now()
		tr.rate, tr.errs, tr.err = sockbench.Throughput(w.sock, req, t.clients, t.total)
		tr.elapsed = time.Since(t0)
		r.res.tput = append(r.res.tput, tr)
		r.res.served += t.total
		if i == len(r.o.tput)-1 {
			r.res.rssAfter, _ = sockbench.RSS(p.pid())
			r.res.memAfter = sockbench.MemDetail(p.pid())
		}
	}
	if n := len(r.o.tput); n > 0 {
		t := r.o.tput[n-1]
		r.logf("throughput: %d clients, %d look-ups, audit trail off (the second daemon)", t.clients, t.total)
		tr := tputResult{clients: t.clients, total: t.total}
		t0 := time.Now()
		tr.rate, tr.errs, tr.err = sockbench.Throughput(sockNA, req, t.clients, t.total)
		tr.elapsed = time.Since(t0)
		r.res.tputNoAudit = &tr
	}
	// Plus what the latency figures sent: keep-alive (unpinned and pinned)
	// and new-connection look-ups with their warm-ups, the first check, the
	// processes that asked the daemon.
	r.res.served += 2*(n+1000) + n + 200 + 1 + 2*(r.o.procN+3)
	if h, err := ipc.NewClient(w.sock, 5*time.Second).Info(ctx); err == nil && h.Audit != nil {
		r.res.audit = *h.Audit
	}

	r.idleWatch(ctx, p, echo.Process.Pid)
	if err, ok := p.exited(); ok {
		return fmt.Errorf("the daemon died during the run (%v): %s", err, p.stderr.String())
	}
	return nil
}

func (r *runner) addRow(x row) { r.res.rows = append(r.res.rows, x) }
func (r *runner) last() *row   { return &r.res.rows[len(r.res.rows)-1] }

// procCase is one process figure: a command that must succeed and print
// what ok accepts.
type procCase struct {
	name, how string
	mk        func() *exec.Cmd
	stdin     string
	ok        func(string) bool
	slot      **row // remembered for ratios and targets (nil: not needed)
	err       error // known before it runs: why it cannot
}

// procRows times the process-per-look-up figures, the peers and
// torale-cred's own commands, all in one interleaved series: run by run
// each command takes its turn, so a change in the shared machine's load
// falls on every row alike and the ratios stay fair.
func (r *runner) procRows(ctx context.Context, w *world, key string) {
	n := r.o.procN
	gitIn := "protocol=https\nhost=api.torale.ai\n\n"
	wantGit := "password=" + key + "\n"
	noDaemon := "TORALE_CRED_SOCKET=" + filepath.Join(r.tmp, "nowhere", "cred.sock")
	isKey := func(out string) bool { return out == key+"\n" }

	h, buildErr := buildHelpers(ctx, r.tmp)
	floor, keyread, rawresolve := h.floor, h.keyread, h.rawresolve
	// The same minimal client against two servers that answer from memory:
	// what the daemon's side would cost were it git's one-thread C loop, or
	// net/http doing nothing else.
	answerSock := map[string]string{}
	answerErr := map[string]error{"blocking": buildErr, "http": buildErr}
	if buildErr == nil {
		for mode := range answerErr {
			sock, stop, err := r.startAnswer(ctx, h.answer, mode, key)
			defer stop()
			answerSock[mode], answerErr[mode] = sock, err
		}
	}
	cmd := func(p program, extra []string, args ...string) func() *exec.Cmd {
		return func() *exec.Cmd {
			c := exec.Command(p.path, args...)
			c.Env = w.env(append(append([]string(nil), p.env...), extra...)...)
			return c
		}
	}
	helper := func(path string, args ...string) func() *exec.Cmd {
		return func() *exec.Cmd {
			c := exec.Command(path, args...)
			c.Env = w.env()
			return c
		}
	}
	gitCache, stopGitCache, gitErr := r.startGitCache(ctx, w, key)
	defer stopGitCache()

	// Every timed run follows an untimed run of the floor (settle, below),
	// never the row before it: a floor run straight after `secret-tool
	// lookup` costs about 1.2x one after another floor run (dbus-daemon and
	// gnome-keyring are still finishing), and a daemon that answered a
	// moment ago answers the next new connection about 0.1 ms sooner.
	floorCase := procCase{name: "static Go binary writing one line (the process floor)", how: "process: `internal/bench/floor`, built here as `make build` builds (static, CGO_ENABLED=0, -s -w): the Go runtime's own start-up",
		mk: helper(floor), ok: func(out string) bool { return out == "floor\n" }, slot: &r.res.procFloor, err: buildErr}
	cases := []procCase{
		floorCase,
		{name: "`git credential-cache get`", how: "process: git's own socket daemon (`git credential-cache--daemon`)",
			mk: gitCache, stdin: gitIn, ok: func(out string) bool { return strings.Contains(out, wantGit) }, slot: &r.res.gitCache, err: gitErr},
		{name: "`torale-cred token`, daemon running", how: "process: asks the daemon", mk: cmd(r.cred, nil, "token"), ok: isKey, slot: &r.res.token},
		{name: "minimal Go client, one-thread blocking server", how: "process: the minimal client (`internal/bench/rawresolve`, below) against `internal/bench/answer blocking`, which answers from memory on one thread with blocking accept, read, write and close, as git's credential-cache daemon (C) does: the least a Go process asking any daemon costs here",
			mk: helper(rawresolve, answerSock["blocking"]), ok: isKey, slot: &r.res.rawBlocking, err: answerErr["blocking"]},
		{name: "minimal Go client of the daemon, as a process", how: "process: `internal/bench/rawresolve`, static: plain socket/connect/write/read system calls, one hand-written `/v1/resolve` request, the key cut out of the answer without a JSON library: what `torale-cred token` costs beyond it is mostly the front's own work",
			mk: helper(rawresolve, w.sock), ok: isKey, slot: &r.res.rawClient, err: buildErr},
		{name: "minimal Go client, net/http server", how: "process: the minimal client against `internal/bench/answer http`: net/http with one P, as the daemon runs, and a handler that only writes the answer: Go's own serving before any of torale-cred's work",
			mk: helper(rawresolve, answerSock["http"]), ok: isKey, slot: &r.res.rawHTTP, err: answerErr["http"]},
		{name: "`git-credential-torale get`, daemon running", how: "process: git's protocol, asks the daemon",
			mk: cmd(r.git, nil, "get"), stdin: gitIn, ok: func(out string) bool { return strings.Contains(out, wantGit) }, slot: &r.res.gitHelper},
		{name: "direct go-keyring read, as a process", how: "process: `internal/bench/keyread`, static, one `keyring.Get` (D-Bus to the Secret Service)",
			mk: helper(keyread, w.service, credstore.DefaultProfile), ok: isKey, slot: &r.res.keyreadProc, err: buildErr},
		{name: "`torale-cred token`, no daemon", how: "process: finds no daemon, reads the keychain itself", mk: cmd(r.cred, []string{noDaemon}, "token"), ok: isKey, slot: &r.res.tokenNoDaemon},
		{name: "`git-credential-torale get`, no daemon", how: "process: reads the keychain itself",
			mk: cmd(r.git, []string{noDaemon}, "get"), stdin: gitIn, ok: func(out string) bool { return strings.Contains(out, wantGit) }, slot: &r.res.gitNoDaemon},
		{name: "`torale-cred version`", how: "process: start-up alone, no look-up (the floor of every torale-cred command)",
			mk: cmd(r.cred, nil, "version"), ok: func(out string) bool { return out != "" }},
		{name: "`secret-tool lookup`", how: "process: libsecret over D-Bus",
			mk: func() *exec.Cmd {
				return exec.Command("secret-tool", "lookup", "service", w.service, "username", credstore.DefaultProfile)
			}, ok: func(out string) bool { return out == key || out == key+"\n" }},
	}
	// A command that cannot run (not installed, not built) gets its reason
	// and leaves the series; the others still take turns.
	var fns []func() error
	var live []int
	errs := make([]error, len(cases))
	for i, c := range cases {
		if errs[i] = c.err; errs[i] == nil {
			run := r.procRun(c)
			if _, err := exec.LookPath(c.mk().Path); err != nil {
				errs[i] = fmt.Errorf("not available: %w", err)
			} else if _, err := sockbench.Measure(1, 3, run); err != nil {
				errs[i] = err
			} else {
				fns = append(fns, run)
				live = append(live, i)
			}
		}
	}
	var settle func() error
	if buildErr == nil {
		settle = r.procRun(floorCase)
	}
	r.logf("process look-ups: %d commands taking turns run by run, %d runs each, each after an untimed floor run", len(fns), n)
	sts, err := sockbench.InterleaveSettled(n, 0, 1, settle, fns...)
	got := make([]sockbench.Stats, len(cases))
	for j, i := range live {
		if err != nil {
			errs[i] = err
			continue
		}
		got[i] = sts[j]
	}
	for i, c := range cases {
		r.addRow(row{name: c.name, how: c.how, st: got[i], err: errs[i], kind: kindProcess})
		if c.slot != nil {
			*c.slot = r.last()
		}
	}
	r.initTraces(w)
}

// procRun is one run of c: it must succeed and print what c.ok accepts.
// Output is never shown: it holds a key.
func (r *runner) procRun(c procCase) func() error {
	return func() error {
		x := c.mk()
		if c.stdin != "" {
			x.Stdin = strings.NewReader(c.stdin)
		}
		var stdout, stderr bytes.Buffer
		x.Stdout, x.Stderr = &stdout, &stderr
		if err := x.Run(); err != nil {
			return fmt.Errorf("%s: %w: %s", filepath.Base(x.Path), err, strings.TrimSpace(stderr.String()))
		}
		if !c.ok(stdout.String()) {
			return fmt.Errorf("%s answered something else (%d bytes)", filepath.Base(x.Path), stdout.Len())
		}
		return nil
	}
}

// helpers are the bench's own programs, built as make build builds
// torale-cred: static, trimmed, stripped.
type helpers struct {
	floor, keyread, rawresolve, answer string
}

// buildHelpers builds the process floor, the keychain-read program, the
// minimal daemon client and the fixed-answer servers.
func buildHelpers(ctx context.Context, dir string) (helpers, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return helpers{}, fmt.Errorf("not built: %w", err)
	}
	h := helpers{filepath.Join(dir, "floor"), filepath.Join(dir, "keyread"), filepath.Join(dir, "rawresolve"), filepath.Join(dir, "answer")}
	for out, pkg := range map[string]string{h.floor: "floor", h.keyread: "keyread", h.rawresolve: "rawresolve", h.answer: "answer"} {
		c := exec.CommandContext(ctx, goCmd, "build", "-trimpath", "-ldflags", "-s -w", "-o", out,
			"github.com/torale-ai/torale-cred/internal/bench/"+pkg)
		c.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := c.CombinedOutput(); err != nil {
			return helpers{}, fmt.Errorf("go build %s: %w: %s", pkg, err, firstLine(string(b)))
		}
	}
	return h, nil
}

// startAnswer starts the fixed-answer server (internal/bench/answer) the
// given way on a socket of its own, the key on its standard input; stop
// ends it.
func (r *runner) startAnswer(ctx context.Context, bin, mode, key string) (sock string, stop func(), err error) {
	stop = func() {}
	sock = filepath.Join(r.tmp, "answer-"+mode+".sock")
	c := exec.CommandContext(ctx, bin, mode, sock)
	c.Stdin = strings.NewReader(key + "\n")
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if err := c.Start(); err != nil {
		return "", stop, fmt.Errorf("answer %s: %w", mode, err)
	}
	stop = func() { _ = c.Process.Kill(); _ = c.Wait() }
	if err := sockbench.WaitSocket(sock, 10*time.Second); err != nil {
		stop()
		return "", func() {}, fmt.Errorf("answer %s: %w: %s", mode, err, firstLine(stderr.String()))
	}
	return sock, stop, nil
}

// startGitCache starts git's credential-cache daemon on a private socket
// and stores the key in it; mk makes one `git credential-cache get`, stop
// ends the daemon.
func (r *runner) startGitCache(ctx context.Context, w *world, key string) (mk func() *exec.Cmd, stop func(), err error) {
	stop = func() {}
	if _, err := exec.LookPath("git"); err != nil {
		return nil, stop, fmt.Errorf("not available: %w", err)
	}
	dir := filepath.Join(r.tmp, "git-cache")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, stop, err
	}
	sock := filepath.Join(dir, "socket")
	d := exec.CommandContext(ctx, "git", "credential-cache--daemon", sock)
	d.Env = w.env()
	if err := d.Start(); err != nil {
		return nil, stop, fmt.Errorf("git credential-cache--daemon: %w", err)
	}
	kill := func() { _ = d.Process.Kill(); _ = d.Wait() }
	if err := sockbench.WaitSocket(sock, 10*time.Second); err != nil {
		kill()
		return nil, stop, err
	}
	git := func(op, in string) *exec.Cmd {
		c := exec.Command("git", "credential-cache", "--timeout", "3600", "--socket", sock, op)
		c.Env = w.env()
		if in != "" {
			c.Stdin = strings.NewReader(in)
		}
		return c
	}
	if out, err := git("store", "protocol=https\nhost=api.torale.ai\nusername=default\npassword="+key+"\n\n").CombinedOutput(); err != nil {
		kill()
		return nil, stop, fmt.Errorf("git credential-cache store: %w: %d bytes of output", err, len(out))
	}
	return func() *exec.Cmd { return git("get", "") }, func() { _ = git("exit", "").Run(); kill() }, nil
}

// pinAll puts the calling thread and every thread of pids on cpus; the
// returned func puts them all back on every CPU. On failure nothing stays
// pinned and the func does nothing.
func pinAll(cpus []int, pids ...int) (func(), error) {
	if runtime.NumCPU() < 2 {
		return func() {}, errors.New("one CPU: nothing to pin")
	}
	release, err := sockbench.PinThisThread(cpus)
	if err != nil {
		return func() {}, err
	}
	undo := func() {
		for _, pid := range pids {
			_ = sockbench.PinProcess(pid, nil)
		}
		release()
	}
	for _, pid := range pids {
		if err := sockbench.PinProcess(pid, cpus); err != nil {
			undo()
			return func() {}, err
		}
	}
	return undo, nil
}

// idleSlot is the resolution of the idle watch's wake-up moments.
const idleSlot = 100 * time.Millisecond

// idleWatch leaves the daemon alone for o.idle and counts its CPU time and
// wake-ups, from /proc and, where it works, perf; and the same of the echo
// server (floorPID) over the same window, the idle floor of a Go process.
func (r *runner) idleWatch(ctx context.Context, p *proc, floorPID int) {
	settle := 3 * time.Second
	if r.o.quick {
		settle = 200 * time.Millisecond
	}
	r.logf("idle: settling %s, then watching the daemon and the echo floor for %s", settle, r.o.idle)
	time.Sleep(settle)
	before, floorBefore, err := readPair(p.pid(), floorPID)
	if err != nil {
		r.res.idleErr = err
		return
	}
	perfDone := make(chan string, 1)
	go func() { perfDone <- perfIdle(ctx, p.pid(), r.o.idle) }()
	// One wake-up of a Go process is a burst of context switches (the
	// runtime's sysmon spins in 20 µs sleeps after it), so wake-ups are
	// counted as moments: 100 ms slots in which a process switched at all.
	tick := time.NewTicker(idleSlot)
	defer tick.Stop()
	end := time.After(r.o.idle)
	last, lastFloor := before.Voluntary, floorBefore.Voluntary
watch:
	for {
		select {
		case <-tick.C:
			if st, err := sockbench.ReadProcStat(p.pid()); err == nil && st.Voluntary != last {
				r.res.idleMoments++
				last = st.Voluntary
			}
			if st, err := sockbench.ReadProcStat(floorPID); err == nil && st.Voluntary != lastFloor {
				r.res.idleFloorMoments++
				lastFloor = st.Voluntary
			}
		case <-end:
			break watch
		case <-ctx.Done():
			r.res.idleErr = ctx.Err()
			return
		}
	}
	after, floorAfter, err := readPair(p.pid(), floorPID)
	if err != nil {
		r.res.idleErr = err
		return
	}
	r.res.idleStat = after.Sub(before)
	r.res.idleFloor = floorAfter.Sub(floorBefore)
	r.res.idlePerf = <-perfDone
}

// readPair samples the daemon and the echo floor.
func readPair(pid, floorPID int) (daemon, floor sockbench.ProcStat, err error) {
	if daemon, err = sockbench.ReadProcStat(pid); err != nil {
		return daemon, floor, err
	}
	if floor, err = sockbench.ReadProcStat(floorPID); err != nil {
		err = fmt.Errorf("the echo floor: %w", err)
	}
	return daemon, floor, err
}

// perfIdle counts the daemon's context switches with perf stat, or says
// why it could not.
func perfIdle(ctx context.Context, pid int, d time.Duration) string {
	if _, err := exec.LookPath("perf"); err != nil {
		return "perf not installed"
	}
	secs := strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
	c := exec.CommandContext(ctx, "perf", "stat", "-x", ",", "-e", "context-switches,task-clock", "-p", strconv.Itoa(pid), "--", "sleep", secs)
	var errb bytes.Buffer
	c.Stderr = &errb
	if err := c.Run(); err != nil {
		return "perf stat failed: " + firstLine(errb.String())
	}
	var cs, clock string
	for _, line := range strings.Split(errb.String(), "\n") {
		f := strings.Split(line, ",")
		if len(f) < 3 {
			continue
		}
		switch f[2] {
		case "context-switches":
			cs = f[0]
		case "task-clock":
			clock = f[0]
		}
	}
	if cs == "" {
		return "perf stat printed no count: " + firstLine(errb.String())
	}
	if strings.HasPrefix(cs, "<not") {
		cs = "0" // perf says "not counted" when the task never ran
	}
	s := cs + " context switches"
	if clock != "" && !strings.HasPrefix(clock, "<not") {
		s += ", task-clock " + clock + " ms"
	}
	return s
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// exposure runs a second daemon watching its own config.json and writes a
// plaintext key o.exposureN times, half truncate-and-write as the official
// CLI does, half by rename as editors do, timing each from the end of the
// write to the moment the key is gone from disk.
func (r *runner) exposure(ctx context.Context) {
	r.logf("plaintext exposure window: %d writes", r.o.exposureN)
	w, err := newWorld(r.tmp, "exposure")
	if err != nil {
		r.res.exposureErr = err
		return
	}
	defer func() { _ = keyring.DeleteAll(w.service) }()
	if err := os.WriteFile(w.config, []byte("{\n  \"theme\": \"dark\"\n}\n"), 0o600); err != nil {
		r.res.exposureErr = err
		return
	}
	p, err := startDaemon(r.cred, w)
	if err != nil {
		r.res.exposureErr = err
		return
	}
	defer func() { _ = p.stop() }()
	if err := waitHealthy(ctx, p, w.sock); err != nil {
		r.res.exposureErr = err
		return
	}
	marker := []byte(`"api_key"`)
	for i := range r.o.exposureN {
		if ctx.Err() != nil {
			r.res.exposureErr = ctx.Err()
			return
		}
		content := []byte("{\n  \"api_key\": \"" + randomKey() + "\",\n  \"theme\": \"dark\"\n}\n")
		if i%2 == 0 {
			err = os.WriteFile(w.config, content, 0o600)
		} else {
			tmp := w.config + ".tmp-bench"
			if err = os.WriteFile(tmp, content, 0o600); err == nil {
				err = os.Rename(tmp, w.config)
			}
		}
		if err != nil {
			r.res.exposureErr = err
			return
		}
		start := time.Now()
		for {
			b, err := os.ReadFile(w.config)
			if err == nil && !bytes.Contains(b, marker) {
				break
			}
			if time.Since(start) > 5*time.Second {
				r.res.exposureErr = fmt.Errorf("write %d: the key stayed on disk for 5s; daemon log:\n%s", i, p.stderr.String())
				return
			}
			time.Sleep(100 * time.Microsecond)
		}
		r.res.exposure = append(r.res.exposure, time.Since(start))
		// Let the watcher settle (it rereads after its own rename).
		time.Sleep(20 * time.Millisecond)
	}
}
