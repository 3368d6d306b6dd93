// Package sockbench measures the daemon's socket the fair way: a plain
// synchronous HTTP/1.1 client over one connection (no http.Transport
// goroutine hand-offs), a cross-process raw echo as the floor, many
// concurrent clients, and the server's resident memory. It only measures;
// it never starts a daemon or touches the keychain itself.
package sockbench

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ResolveBody is the look-up every figure uses: the default profile, no
// flags, a caller environment that does not set the key (so the stored
// tier answers).
const ResolveBody = `{"profile":"default","env":{"TORALE_DEV":"0"}}`

// RequestBytes is a complete HTTP/1.1 POST with body, ready to write.
func RequestBytes(path, body string) []byte {
	return []byte(fmt.Sprintf("POST %s HTTP/1.1\r\nHost: torale\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", path, len(body), body))
}

// SyncClient sends one request at a time over one connection and reads
// the answer with net/http's own parser.
type SyncClient struct {
	c   net.Conn
	br  *bufio.Reader
	req []byte
}

// Dial connects a SyncClient that will send req.
func Dial(sock string, req []byte) (*SyncClient, error) {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return nil, err
	}
	return &SyncClient{c: c, br: bufio.NewReaderSize(c, 4096), req: req}, nil
}

// Do makes one round trip and checks for 200.
func (s *SyncClient) Do() error {
	if _, err := s.c.Write(s.req); err != nil {
		return err
	}
	resp, err := http.ReadResponse(s.br, nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// Close closes the connection.
func (s *SyncClient) Close() error { return s.c.Close() }

// OneShot makes one look-up on a new connection.
func OneShot(sock string, req []byte) error {
	c, err := Dial(sock, req)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Do()
}

// Stats summarises latencies.
type Stats struct {
	N             int
	P50, P99, Avg time.Duration
}

func (s Stats) String() string {
	return fmt.Sprintf("p50 %8s  p99 %8s  avg %8s  (n=%d)", fmtDur(s.P50), fmtDur(s.P99), fmtDur(s.Avg), s.N)
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.1fµs", float64(d)/1e3)
	}
}

// Measure times n calls of fn after warm calls of warm-up.
func Measure(n, warm int, fn func() error) (Stats, error) {
	for range warm {
		if err := fn(); err != nil {
			return Stats{}, err
		}
	}
	ds := make([]time.Duration, n)
	var total time.Duration
	for i := range n {
		t := time.Now()
		if err := fn(); err != nil {
			return Stats{}, err
		}
		ds[i] = time.Since(t)
		total += ds[i]
	}
	slices.Sort(ds)
	return Stats{N: n, P50: ds[n/2], P99: ds[n*99/100], Avg: total / time.Duration(n)}, nil
}

// EchoServe echoes every connection on l back to itself until l closes.
func EchoServe(l net.Listener) error {
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			buf := make([]byte, 4096)
			for {
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				if _, err := c.Write(buf[:n]); err != nil {
					return
				}
			}
		}()
	}
}

// EchoClient round-trips a payload through an echo server.
type EchoClient struct {
	c   net.Conn
	msg []byte
	buf []byte
}

// DialEcho connects to an echo server; each round trip sends size bytes.
func DialEcho(sock string, size int) (*EchoClient, error) {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return nil, err
	}
	msg := []byte(strings.Repeat("x", size))
	return &EchoClient{c: c, msg: msg, buf: make([]byte, size)}, nil
}

// Do is one round trip.
func (e *EchoClient) Do() error {
	if _, err := e.c.Write(e.msg); err != nil {
		return err
	}
	_, err := io.ReadFull(e.c, e.buf)
	return err
}

// Close closes the connection.
func (e *EchoClient) Close() error { return e.c.Close() }

// Throughput runs clients concurrent keep-alive clients until total
// look-ups are done; it returns look-ups per second and errors seen.
func Throughput(sock string, req []byte, clients, total int) (perSec float64, errs int64, err error) {
	cs := make([]*SyncClient, clients)
	for i := range cs {
		if cs[i], err = Dial(sock, req); err != nil {
			return 0, 0, err
		}
		defer cs[i].Close()
	}
	var left atomic.Int64
	left.Store(int64(total))
	var nerr atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for _, c := range cs {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				if c.Do() != nil {
					nerr.Add(1)
					return
				}
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	return float64(total) / el.Seconds(), nerr.Load(), nil
}

// RSS is a process's resident memory in bytes.
func RSS(pid int) (int64, error) {
	if runtime.GOOS == "linux" {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return 0, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				return kb << 10, err
			}
		}
		return 0, errors.New("no VmRSS")
	}
	out, err := exec.Command("ps", "-o", "rss=", "-p", strconv.Itoa(pid)).Output()
	if err != nil {
		return 0, err
	}
	kb, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	return kb << 10, err
}

// MemDetail is the breakdown of a process's memory as /proc shows it
// ("" elsewhere): anonymous (heap, stacks) and file-backed (the binary).
func MemDetail(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ""
	}
	var parts []string
	for _, line := range strings.Split(string(b), "\n") {
		for _, k := range []string{"RssAnon:", "RssFile:", "VmHWM:"} {
			if v, ok := strings.CutPrefix(line, k); ok {
				parts = append(parts, strings.TrimSuffix(k, ":")+" "+strings.Join(strings.Fields(v), " "))
			}
		}
	}
	return strings.Join(parts, ", ")
}

// WaitSocket waits until something accepts on sock.
func WaitSocket(sock string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing answers on %s after %s: %w", sock, d, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Interleave times n calls of each fn after warm calls of each, taking
// turns in blocks of block calls, so that a change in the machine's load
// (a shared machine) falls on every figure alike and their ratios stay
// fair. It stops at the first error, saying which fn failed.
func Interleave(n, warm, block int, fns ...func() error) ([]Stats, error) {
	return InterleaveSettled(n, warm, block, nil, fns...)
}

// InterleaveSettled is Interleave with settle (when not nil) called,
// untimed, before every timed call: each figure then follows the same
// call, not whichever fn took its turn before it, whose aftermath (a
// process's helpers still working, a server still awake) would fall on
// the next figure alone.
func InterleaveSettled(n, warm, block int, settle func() error, fns ...func() error) ([]Stats, error) {
	block = max(block, 1)
	for i, fn := range fns {
		for range warm {
			if err := fn(); err != nil {
				return nil, fmt.Errorf("figure %d: %w", i, err)
			}
		}
	}
	ds := make([][]time.Duration, len(fns))
	for done := 0; done < n; done += block {
		k := min(block, n-done)
		for i, fn := range fns {
			for range k {
				if settle != nil {
					if err := settle(); err != nil {
						return nil, fmt.Errorf("settling before figure %d: %w", i, err)
					}
				}
				t := time.Now()
				if err := fn(); err != nil {
					return nil, fmt.Errorf("figure %d: %w", i, err)
				}
				ds[i] = append(ds[i], time.Since(t))
			}
		}
	}
	out := make([]Stats, len(fns))
	for i, d := range ds {
		var total time.Duration
		for _, x := range d {
			total += x
		}
		slices.Sort(d)
		out[i] = Stats{N: len(d), P50: d[len(d)/2], P99: d[len(d)*99/100], Avg: total / time.Duration(len(d))}
	}
	return out, nil
}
