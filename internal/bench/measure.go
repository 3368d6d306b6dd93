package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// stats are one row's latencies.
type stats struct {
	n        int
	p50, p99 time.Duration
}

func summarise(ds []time.Duration) stats {
	slices.Sort(ds)
	return stats{n: len(ds), p50: ds[len(ds)/2], p99: ds[len(ds)*99/100]}
}

// A process row's kind: what its goals compare it with.
const (
	kindFloor    = iota // no look-up: what starting a process costs
	kindCache           // git credential-cache get, the reference
	kindOurs            // torale-cred's own doors, judged by the goals
	kindKeychain        // a helper that reads a keychain or an encrypted store
)

// procRow is one command run per look-up, as a script or git runs it.
type procRow struct {
	name, holds string
	kind        int
	argv        []string
	stdin       string
	want        string // its stdout must hold this ("" = anything)
	st          stats
}

// run is one run of r; its output is only checked, never shown.
func (r *procRow) run(w *world) error {
	c := w.command(r.stdin, r.argv[0], r.argv[1:]...)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", r.name, err, firstLine(stderr.String()))
	}
	if !strings.Contains(stdout.String(), r.want) {
		return fmt.Errorf("%s answered something else (%d bytes)", r.name, stdout.Len())
	}
	return nil
}

// timeProcs runs every row rounds times, round-robin: each round runs
// every row once in a new random order, so drift in the shared machine's
// load, and the aftermath of one row (D-Bus, gnome-keyring, gpg-agent
// still finishing), fall on every row alike.
func timeProcs(w *world, rows []*procRow, rounds int) error {
	for _, r := range rows {
		for range 3 { // warm the page cache and the helpers' daemons
			if err := r.run(w); err != nil {
				return err
			}
		}
	}
	ds := make([][]time.Duration, len(rows))
	order := make([]int, len(rows))
	for i := range order {
		order[i] = i
	}
	for range rounds {
		rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, i := range order {
			t := time.Now()
			if err := rows[i].run(w); err != nil {
				return err
			}
			ds[i] = append(ds[i], time.Since(t))
		}
	}
	for i, r := range rows {
		r.st = summarise(ds[i])
	}
	return nil
}

// resolveBody is the look-up every socket figure sends. A program that is
// not torale-cred asks through the door "socket": it gets the key, and
// the daemon judges and records it as it would any other program's.
const resolveBody = `{"profile":"default"}`

// floorBody is what the echo floor answers: a resolve answer's shape, its
// key built here so that no key-shaped literal sits in the source.
var floorBody = `{"profile":"default","api_key":"sk_` + strings.Repeat("0", 43) + `","api_key_source":"keychain","api_url":"https://api.torale.ai","api_url_source":"default","noauth":false,"rotation":null,"key_hint":"sk_...00000"}` + "\n"

// serveFloor is the echo floor: net/http on a Unix socket answering every
// request with floorBody, run as the daemon runs (its own process, Go's default GOMAXPROCS):
// what any Go daemon on a Unix socket costs before doing any work.
func serveFloor(sock string) error {
	l, err := net.Listen("unix", sock)
	if err != nil {
		return err
	}
	return http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, floorBody)
	}))
}

// startFloor runs this program again as the echo floor on a socket in w.
func (w *world) startFloor() (sock string, err error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	sock = filepath.Join(w.tmp, "floor.sock")
	c := exec.Command(self, sock)
	c.Env = append(os.Environ(), roleEnv+"=floor")
	c.Stderr = os.Stderr
	if err := c.Start(); err != nil {
		return "", err
	}
	w.cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		if conn, err := net.Dial("unix", sock); err == nil {
			conn.Close()
			return sock, nil
		}
		if time.Since(start) > 10*time.Second {
			return "", fmt.Errorf("the echo floor does not answer on %s", sock)
		}
	}
}

// conn is a synchronous keep-alive HTTP/1.1 client: one request at a
// time on one connection, the answer read with net/http's own parser
// (http.Transport's goroutine hand-offs would cost more than the daemon).
type conn struct {
	c   net.Conn
	br  *bufio.Reader
	req []byte
}

func dial(sock string) (*conn, error) {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return nil, err
	}
	req := fmt.Sprintf("POST /v1/resolve HTTP/1.1\r\nHost: torale\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(resolveBody), resolveBody)
	return &conn{c: c, br: bufio.NewReader(c), req: []byte(req)}, nil
}

// do is one look-up; it returns the answer's body.
func (c *conn) do(body *bytes.Buffer) error {
	if _, err := c.c.Write(c.req); err != nil {
		return err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body.Reset()
	if _, err := body.ReadFrom(resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// timeSockets times n keep-alive look-ups on each socket, taking turns
// look-up by look-up, after a warm-up; the first answer of each must be
// right (the daemon's must hold the key).
func timeSockets(socks []string, want []string, n int) ([]stats, error) {
	conns := make([]*conn, len(socks))
	var body bytes.Buffer
	for i, s := range socks {
		// Each connection is warmed as soon as it is dialled: a server
		// closes a connection whose first request is late (the daemon's
		// ReadTimeout, 10 s), and the other socket's warm-up on a loaded
		// machine may outlast that.
		c, err := dial(s)
		if err != nil {
			return nil, err
		}
		defer c.c.Close()
		conns[i] = c
		for j := range 1000 {
			if err := c.do(&body); err != nil {
				return nil, fmt.Errorf("%s: %w", socks[i], err)
			}
			if j == 0 && !bytes.Contains(body.Bytes(), []byte(want[i])) {
				return nil, fmt.Errorf("%s answered something else (%d bytes)", socks[i], body.Len())
			}
		}
	}
	ds := make([][]time.Duration, len(conns))
	for range n {
		for i, c := range conns {
			t := time.Now()
			if err := c.do(&body); err != nil {
				return nil, fmt.Errorf("%s: %w", socks[i], err)
			}
			ds[i] = append(ds[i], time.Since(t))
		}
	}
	out := make([]stats, len(ds))
	for i := range ds {
		out[i] = summarise(ds[i])
	}
	return out, nil
}

// throughput is total look-ups from clients concurrent keep-alive
// clients, each on its own connection.
type throughput struct {
	clients, total int
	errs           int64
	elapsed        time.Duration
}

func (t throughput) rate() float64 { return float64(t.total) / t.elapsed.Seconds() }

func measureThroughput(sock string, clients, total int) (throughput, error) {
	t := throughput{clients: clients, total: total}
	conns := make([]*conn, clients)
	for i := range conns {
		c, err := dial(sock)
		if err != nil {
			return t, err
		}
		defer c.c.Close()
		conns[i] = c
	}
	var left, errs atomic.Int64
	left.Store(int64(total))
	var wg sync.WaitGroup
	start := time.Now()
	for _, c := range conns {
		wg.Go(func() {
			var body bytes.Buffer
			for left.Add(-1) >= 0 {
				if c.do(&body) != nil {
					errs.Add(1)
					return
				}
			}
		})
	}
	wg.Wait()
	t.elapsed, t.errs = time.Since(start), errs.Load()
	return t, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
