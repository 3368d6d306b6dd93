package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
)

// results is what one run measured.
type results struct {
	o                  options
	start              time.Time
	took               time.Duration
	loadStart, loadEnd string
	procs              []*procRow
	floor, resolve     stats
	tput, floorTput    throughput
	endpoint           endpointRun
}

// run measures everything, prints the report to out (and writes o.out)
// and says what it is doing on progress.
func run(ctx context.Context, o options, out, progress io.Writer) error {
	logf := func(format string, a ...any) { fmt.Fprintf(progress, "bench: "+format+"\n", a...) }
	res := &results{o: o, start: time.Now(), loadStart: loadavg()}
	w, err := newWorld(o.bin)
	if w != nil {
		defer w.close()
	}
	if err != nil {
		return err
	}
	logf("starting the daemon and storing a throw-away key in the Secret Service")
	if err := w.startDaemon(ctx); err != nil {
		return err
	}
	cacheGet, err := w.startGitCache()
	if err != nil {
		return err
	}
	floor, err := exec.LookPath("true")
	if err != nil {
		return err
	}
	gitWant := "password=" + w.key + "\n"
	res.procs = []*procRow{
		{name: "`true` (the floor)", holds: "nothing: fork, exec and exit alone", kind: kindFloor, argv: []string{floor}},
		{name: "`git credential-cache get`", holds: "git's cache daemon, in memory (primed)", kind: kindCache, argv: cacheGet, stdin: gitAsk, want: gitWant},
		{name: "`torale-cred token`", holds: "the torale-cred daemon (Secret Service behind it)", kind: kindOurs, argv: []string{w.cred, "token"}, want: w.key + "\n"},
		{name: "`git-credential-torale get`", holds: "the torale-cred daemon", kind: kindOurs, argv: []string{w.git, "get"}, stdin: gitAsk, want: gitWant},
		{name: "`torale-cred version`", holds: "nothing: torale-cred's start-up alone", kind: kindFloor, argv: []string{w.cred, "version"}},
	}
	if !o.quick {
		logf("giving the same key to docker-credential-secretservice and pass (a throw-away gpg key)")
		if err := w.storeKeychainHelpers(); err != nil {
			return err
		}
		res.procs = append(res.procs,
			&procRow{name: "`docker-credential-secretservice get`", holds: "Secret Service (libsecret)", kind: kindKeychain,
				argv: []string{"docker-credential-secretservice", "get"}, stdin: torURL + "\n", want: `"Secret":"` + w.key + `"`},
			&procRow{name: "`secret-tool lookup`", holds: "Secret Service (libsecret): torale-cred's own entry", kind: kindKeychain,
				argv: []string{"secret-tool", "lookup", "service", w.service, "username", credstore.DefaultProfile}, want: w.key},
			&procRow{name: "`pass show`", holds: "a gpg file (ed25519 key, no passphrase, gpg-agent running)", kind: kindKeychain,
				argv: []string{"pass", "show", passName}, want: w.key + "\n"})
	}
	logf("processes: %d commands, %d rounds, each round in a new random order", len(res.procs), o.rounds)
	if err := timeProcs(w, res.procs, o.rounds); err != nil {
		return err
	}
	floorSock, err := w.startFloor()
	if err != nil {
		return err
	}
	logf("socket: %d keep-alive look-ups each from the echo floor and the daemon, taking turns", o.sockN)
	sts, err := timeSockets([]string{floorSock, w.sock}, []string{floorBody, w.key}, o.sockN)
	if err != nil {
		return w.daemonSaid(err)
	}
	res.floor, res.resolve = sts[0], sts[1]
	logf("throughput: %d clients, %d look-ups, from the echo floor then the daemon", o.clients, o.tputN)
	if res.floorTput, err = measureThroughput(floorSock, o.clients, o.tputN); err != nil {
		return err
	}
	if res.tput, err = measureThroughput(w.sock, o.clients, o.tputN); err != nil {
		return w.daemonSaid(err)
	}
	logf("endpoint: %d keep-alive GET /auth/me each straight to an https stand-in and through the local endpoint, taking turns; then %d clients", o.endN, o.endCli)
	if res.endpoint, err = measureEndpoint(ctx, o.bin, o.endN, o.endCli, o.endTotal); err != nil {
		return fmt.Errorf("endpoint: %w", err)
	}
	res.took, res.loadEnd = time.Since(res.start), loadavg()

	var doc bytes.Buffer
	render(&doc, res)
	if _, err := out.Write(doc.Bytes()); err != nil {
		return err
	}
	if o.out != "" {
		if err := os.WriteFile(o.out, doc.Bytes(), 0o644); err != nil {
			return err
		}
		logf("wrote %s", o.out)
	}
	return ctx.Err()
}

// Goals (issue 24).
const (
	goalCache  = 2.0    // a torale-cred door ≤ 2× git credential-cache get (p50)
	goalSocket = 3.0    // keep-alive /v1/resolve ≤ 3× the echo floor (p50)
	goalRate   = 30_000 // look-ups/s from 64 keep-alive clients, no errors
	// goalEndpoint: latency the local endpoint adds (issue 26), p50.
	goalEndpoint = time.Millisecond
)

func render(b *bytes.Buffer, r *results) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format+"\n", a...) }
	p("# torale-cred benchmarks\n")
	p("Written by `make bench` (`internal/bench`) from one run on %s: %d CPUs (%s), kernel %s, %s; load average %s at the start, %s at the end; %s in all.",
		r.start.UTC().Format("2006-01-02 15:04 UTC"), runtime.NumCPU(), cpuModel(), kernel(), runtime.Version(), r.loadStart, r.loadEnd, r.took.Round(time.Second))
	p("The keychain is a real Secret Service (a private gnome-keyring, `.ci/with-keyring`), and every helper holds the same key. The machine is shared: figures swing from run to run; the ratios, taken within one interleaved series, much less.")
	if r.o.quick {
		p("\n**Quick smoke run (`-quick`): tiny counts, torale-cred and git's cache only; the figures mean nothing.**")
	}

	var cache *procRow
	for _, x := range r.procs {
		if x.kind == kindCache {
			cache = x
		}
	}
	p("\n## A look-up as a process\n")
	p("Each row is a whole process, as git or a script runs it: fork, exec, start-up, the look-up, exit. %d rounds; each round runs every command once, in a new random order, so drift in the machine's load and one command's aftermath (D-Bus, gnome-keyring, gpg-agent still busy) fall on every row alike. Ratios are to `git credential-cache get`.\n", r.o.rounds)
	p("| command | key held by | p50 | p99 | p50 ÷ cache | p99 ÷ cache |")
	p("|---|---|---:|---:|---:|---:|")
	for _, x := range r.procs {
		p("| %s | %s | %s | %s | %s | %s |", x.name, x.holds, dur(x.st.p50), dur(x.st.p99), ratio(x.st.p50, cache.st.p50), ratio(x.st.p99, cache.st.p99))
	}

	p("\n## The daemon's socket\n")
	p("`POST /v1/resolve` on one keep-alive connection from a synchronous Go HTTP/1.1 client, %d look-ups taking turns, one by one, with the same client asking the echo floor: a net/http server on a Unix socket in a process of its own with Go's default GOMAXPROCS, as the daemon runs, answering a fixed body of the same shape. The daemon judges every look-up and writes it to the audit trail.\n", r.floor.n)
	p("| server | p50 | p99 | p50 ÷ floor | p99 ÷ floor |")
	p("|---|---:|---:|---:|---:|")
	p("| echo floor (net/http, fixed body) | %s | %s | 1.00× | 1.00× |", dur(r.floor.p50), dur(r.floor.p99))
	p("| torale-cred daemon, `/v1/resolve` | %s | %s | %s | %s |", dur(r.resolve.p50), dur(r.resolve.p99), ratio(r.resolve.p50, r.floor.p50), ratio(r.resolve.p99, r.floor.p99))
	t := r.tput
	p("\nThroughput: %d concurrent keep-alive clients in this process, on the same CPUs as the daemon, %s look-ups in %s: **%s look-ups/s**, %d errors. The echo floor, asked the same way just before: %s/s, %d errors (the daemon serves %.2f× the floor's rate).",
		t.clients, thousands(float64(t.total)), t.elapsed.Round(time.Millisecond), thousands(t.rate()), t.errs,
		thousands(r.floorTput.rate()), r.floorTput.errs, t.rate()/r.floorTput.rate())

	e := r.endpoint
	p("\n## The local endpoint\n")
	p("`GET /auth/me` from a Go HTTP/1.1 client on one keep-alive connection, %d requests straight to an https stand-in of the Torale API in this process and %d through the daemon's local endpoint (plain http on 127.0.0.1 with the local token; the daemon checks the token, names the peer process from /proc, judges and records the request, puts the real key in and forwards it over its own keep-alive https connection), taking turns. Added latency is each pair's difference.\n", e.direct.n, e.via.n)
	p("| path | p50 | p99 |")
	p("|---|---:|---:|")
	p("| straight to the stand-in (https) | %s | %s |", dur(e.direct.p50), dur(e.direct.p99))
	p("| through the local endpoint | %s | %s |", dur(e.via.p50), dur(e.via.p99))
	p("| added by the endpoint | %s | %s |", dur(e.added50), dur(e.added99))
	p("\nRate from %d concurrent keep-alive clients: **%s requests/s** through the endpoint, %d errors; %s/s straight to the stand-in, %d errors (%.2f× of it), all on the same CPUs as the stand-in.",
		e.tput.clients, thousands(e.tput.rate()), e.tput.errs, thousands(e.tputDir.rate()), e.tputDir.errs, e.tput.rate()/e.tputDir.rate())

	p("\n## Goals\n")
	p("| goal | figure | |")
	p("|---|---|---|")
	for _, x := range r.procs {
		if x.kind != kindOurs {
			continue
		}
		var fastest *procRow // the fastest keychain-backed helper: the one to beat
		for _, k := range r.procs {
			if k.kind == kindKeychain && (fastest == nil || k.st.p50 < fastest.st.p50) {
				fastest = k
			}
		}
		if fastest == nil {
			p("| %s faster than every keychain-backed helper (p50) | not measured (`-quick`) | – |", x.name)
		} else {
			p("| %s faster than every keychain-backed helper (p50) | %s against %s, the fastest of them: %s | %s |",
				x.name, dur(x.st.p50), fastest.name, dur(fastest.st.p50), verdict(x.st.p50 < fastest.st.p50))
		}
		rc := float64(x.st.p50) / float64(cache.st.p50)
		p("| %s ≤ %.0f× `git credential-cache get` (p50) | %.2f× | %s |", x.name, goalCache, rc, verdict(rc <= goalCache))
	}
	rs := float64(r.resolve.p50) / float64(r.floor.p50)
	p("| keep-alive `/v1/resolve` ≤ %.0f× the echo floor (p50) | %.2f× | %s |", goalSocket, rs, verdict(rs <= goalSocket))
	p("| ≥ %s look-ups/s from %d keep-alive clients, 0 errors | %s/s, %d errors | %s |", thousands(goalRate), t.clients, thousands(t.rate()), t.errs, verdict(t.rate() >= goalRate && t.errs == 0))
	p("| the endpoint adds ≤ 1 ms on a keep-alive connection (p50) | %s (p99 %s) | %s |", dur(e.added50), dur(e.added99), verdict(e.added50 <= goalEndpoint))
}

func verdict(ok bool) string {
	if ok {
		return "**PASS**"
	}
	return "**MISS**"
}

func dur(d time.Duration) string {
	if d >= time.Millisecond {
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.1f µs", float64(d)/1e3)
}

func ratio(a, b time.Duration) string { return fmt.Sprintf("%.2f×", float64(a)/float64(b)) }

// thousands is f rounded, with commas: 30709.4 → "30,709".
func thousands(f float64) string {
	s := fmt.Sprintf("%.0f", f)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// The machine, where Linux's /proc tells it ("?" elsewhere).
func loadavg() string {
	f := strings.Fields(readProc("/proc/loadavg"))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func kernel() string {
	if k := strings.TrimSpace(readProc("/proc/sys/kernel/osrelease")); k != "" {
		return k
	}
	return "?"
}

func cpuModel() string {
	for _, line := range strings.Split(readProc("/proc/cpuinfo"), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

func readProc(path string) string {
	b, _ := os.ReadFile(filepath.Clean(path))
	return string(b)
}
