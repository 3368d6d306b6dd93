//go:build linux

package reliability

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/internal/testkeyring"
	"github.com/torale-ai/torale-cred/ipc"
)

func jsonEscaped(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r", `\r`), "\n", `\n`)
}

// answer is what one raw exchange on the socket gave.
type answer struct {
	status  int
	body    string
	header  http.Header
	err     error // reading the answer (EOF: the daemon closed)
	elapsed time.Duration
}

func (a answer) String() string {
	if a.err != nil {
		if errors.Is(a.err, io.EOF) || errors.Is(a.err, io.ErrUnexpectedEOF) {
			return fmt.Sprintf("connection closed after %s, no answer", a.elapsed.Round(100*time.Millisecond))
		}
		return fmt.Sprintf("error after %s: %v", a.elapsed.Round(100*time.Millisecond), a.err)
	}
	b := strings.TrimSpace(a.body)
	if len(b) > 110 {
		b = b[:110] + "…"
	}
	if b == "" {
		return fmt.Sprintf("%d after %s", a.status, a.elapsed.Round(100*time.Millisecond))
	}
	return fmt.Sprintf("%d %s", a.status, b)
}

// exchange writes payload on a fresh connection (the write may be cut
// short by the daemon closing) and reads one answer.
func exchange(sock string, payload []byte, timeout time.Duration) answer {
	start := time.Now()
	c, err := net.Dial("unix", sock)
	if err != nil {
		return answer{err: err}
	}
	defer c.Close()
	_ = c.SetDeadline(start.Add(timeout))
	go func() { _, _ = c.Write(payload) }()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return answer{err: err, elapsed: time.Since(start)}
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	return answer{status: resp.StatusCode, body: string(b), header: resp.Header, elapsed: time.Since(start)}
}

func post(path, body string) []byte {
	return fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: torale\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", path, len(body), body)
}

func put(path, body string) []byte {
	return append([]byte("PUT"), post(path, body)[len("POST"):]...)
}

func get(method, path string) []byte {
	return fmt.Appendf(nil, "%s %s HTTP/1.1\r\nHost: torale\r\n\r\n", method, path)
}

func wantStatus(code int, errCode string) func(answer) bool {
	return func(a answer) bool {
		return a.err == nil && a.status == code && (errCode == "" || strings.Contains(a.body, `"error":"`+errCode+`"`))
	}
}

// TestHostileInput throws bad input at a running daemon over its socket
// and records what it answered; after all of it the same daemon process
// still answers promptly and no file or keychain entry appeared.
func TestHostileInput(t *testing.T) {
	parallel(t)
	testkeyring.Require(t)
	w := newWorld(t)
	d := w.Daemon(t, nil)
	good := newKey(t)
	crlfKey := "sk_" + strings.Repeat("A", 32) + "\r\nX-Evil: 1"
	w.use(good)
	kc := keychain.New(keychain.WithService(w.Service))
	if err := kc.Set(t.Context(), "work", good); err != nil {
		t.Fatal(err)
	}
	baseFDs := fdCount(d.PID())

	// The slow cases run beside the rest. Each is cut off by the daemon
	// (its header or read timeout) long before the trickle would be
	// complete (60 s, 100 s): cut while bytes were still to come, and not
	// by our own deadline, is the outcome; how long the cut took is this
	// machine's and only reported.
	type slow struct {
		what, expected string
		got            chan answer
		left           atomic.Int64 // bytes the trickle had yet to send
		ok             func(answer, int64) bool
	}
	cut := func(a answer, left int64) bool {
		var ne net.Error
		ours := errors.As(a.err, &ne) && ne.Timeout()
		return left > 0 && !ours && (a.err != nil || a.status == 408 || a.status == 400)
	}
	slowloris := &slow{what: "slowloris: request headers sent one byte every 500 ms",
		expected: "connection closed by the 5 s header timeout", got: make(chan answer, 1), ok: cut}
	slowBody := &slow{what: "slow body: headers complete, Content-Length 100, body one byte a second",
		expected: "cut off by the 10 s read timeout (400 or closed)", got: make(chan answer, 1), ok: cut}
	go func() {
		start := time.Now()
		c, err := net.Dial("unix", w.Sock)
		if err != nil {
			slowloris.got <- answer{err: err}
			return
		}
		defer c.Close()
		msg := "POST /v1/resolve HTTP/1.1\r\nHost: torale\r\nX-Slow: " + strings.Repeat("a", 100)
		_ = c.SetDeadline(start.Add(patience))
		slowloris.left.Store(int64(len(msg)))
		go func() {
			for i := range len(msg) {
				if _, err := c.Write([]byte{msg[i]}); err != nil {
					return
				}
				slowloris.left.Add(-1)
				time.Sleep(500 * time.Millisecond)
			}
		}()
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		a := answer{err: err, elapsed: time.Since(start)}
		if err == nil {
			a.status = resp.StatusCode
		}
		slowloris.got <- a
	}()
	go func() {
		start := time.Now()
		c, err := net.Dial("unix", w.Sock)
		if err != nil {
			slowBody.got <- answer{err: err}
			return
		}
		defer c.Close()
		_ = c.SetDeadline(start.Add(patience))
		_, _ = c.Write([]byte("POST /v1/resolve HTTP/1.1\r\nHost: torale\r\nContent-Length: 100\r\n\r\n"))
		slowBody.left.Store(100)
		go func() {
			for range 100 {
				if _, err := c.Write([]byte{' '}); err != nil {
					return
				}
				slowBody.left.Add(-1)
				time.Sleep(time.Second)
			}
		}()
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		a := answer{err: err, elapsed: time.Since(start)}
		if err == nil {
			a.status = resp.StatusCode
		}
		slowBody.got <- a
	}()

	random := make([]byte, 64<<10)
	_, _ = rand.Read(random)
	nested := strings.Repeat("[", 30000)
	var headerFlood strings.Builder
	headerFlood.WriteString("GET /v1/health HTTP/1.1\r\nHost: torale\r\n")
	for i := range 2000 {
		fmt.Fprintf(&headerFlood, "X-H%d: %s\r\n", i, strings.Repeat("v", 16))
	}
	headerFlood.WriteString("\r\n")

	notStored := func(profile string) func(answer) bool {
		return func(answer) bool {
			_, err := kc.Get(t.Context(), profile)
			return errors.Is(err, storeerr.ErrNotFound)
		}
	}
	and := func(fs ...func(answer) bool) func(answer) bool {
		return func(a answer) bool {
			for _, f := range fs {
				if !f(a) {
					return false
				}
			}
			return true
		}
	}
	noKeyEcho := func(a answer) bool { return !strings.Contains(a.body, strings.Repeat("A", 8)) }
	noInjectedHeader := func(a answer) bool { return a.header.Get("X-Evil") == "" }
	notOK := func(a answer) bool { return a.err != nil || a.status != 200 }

	cases := []struct {
		what, expected string
		payload        []byte
		ok             func(answer) bool
	}{
		{"binary garbage instead of a request line", "400, connection closed", []byte("\x00\xff\xfe GET / HTTP/9.9\r\n\r\n"), wantStatus(400, "")},
		{"64 KiB of random bytes", "400 or closed; daemon unharmed", random, func(a answer) bool { return a.err != nil || a.status == 400 }},
		{"HTTP/1.1 request without Host", "400", []byte("GET /v1/health HTTP/1.1\r\n\r\n"), wantStatus(400, "")},
		{"invalid JSON body", "400 bad_request", post("/v1/resolve", "{nope"), wantStatus(400, ipc.CodeBadRequest)},
		{"two JSON objects in one body", "400 bad_request", post("/v1/resolve", "{}{}"), wantStatus(400, ipc.CodeBadRequest)},
		{"wrong JSON type (profile: 7)", "400 bad_request", post("/v1/resolve", `{"profile":7}`), wantStatus(400, ipc.CodeBadRequest)},
		{"misspelt field (api_kye)", "400 bad_request (a typo must not change the answer)", post("/v1/resolve", `{"api_kye":"x"}`), wantStatus(400, ipc.CodeBadRequest)},
		{"30,000 nested arrays", "400 bad_request, no stack blow-up", post("/v1/resolve", nested), wantStatus(400, ipc.CodeBadRequest)},
		{"Content-Length: 100000000 (body never sent)", "413 too_large at once", []byte("POST /v1/resolve HTTP/1.1\r\nHost: torale\r\nContent-Length: 100000000\r\n\r\n"), wantStatus(413, ipc.CodeTooLarge)},
		{"1 MiB chunked body", "413 too_large", append([]byte("POST /v1/resolve HTTP/1.1\r\nHost: torale\r\nTransfer-Encoding: chunked\r\n\r\n100000\r\n"), make([]byte, 1<<20)...), wantStatus(413, ipc.CodeTooLarge)},
		{"2,000 headers (~50 KiB)", "431, connection closed", []byte(headerFlood.String()), wantStatus(431, "")},
		{"100 KiB request path", "431 (request line counts against the header cap)", get("GET", "/v1/credentials/"+strings.Repeat("a", 100<<10)), wantStatus(431, "")},
		{"Content-Length and Transfer-Encoding both (smuggling)", "Transfer-Encoding wins, Content-Length ignored (RFC 9112 §6.3); no proxy in front, so no desync", []byte("POST /v1/resolve HTTP/1.1\r\nHost: torale\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /v1/health HTTP/1.1\r\nHost: torale\r\n\r\n"), func(a answer) bool { return a.err == nil && a.status < 500 }},
		{"PATCH /v1/resolve", "405 method_not_allowed with Allow", get("PATCH", "/v1/resolve"), and(wantStatus(405, ipc.CodeMethodNotAllowed), func(a answer) bool { return a.header.Get("Allow") != "" })},
		{"GET /v1/resolve", "405 method_not_allowed", get("GET", "/v1/resolve"), wantStatus(405, ipc.CodeMethodNotAllowed)},
		{"made-up method BREW /v1/health", "405 method_not_allowed", get("BREW", "/v1/health"), wantStatus(405, ipc.CodeMethodNotAllowed)},
		{"TRACE /v1/credentials/work", "405, nothing echoed", get("TRACE", "/v1/credentials/work"), and(wantStatus(405, ipc.CodeMethodNotAllowed), func(a answer) bool { return !strings.Contains(a.body, good) })},
		{"unknown path /v2/secrets", "404 unknown_route", get("GET", "/v2/secrets"), wantStatus(404, ipc.CodeUnknownRoute)},
		{"profile ..%2F..%2Fetc%2Fpasswd (GET)", "400 bad_profile", get("GET", "/v1/credentials/..%2F..%2Fetc%2Fpasswd"), wantStatus(400, ipc.CodeBadProfile)},
		{"raw ../../etc/passwd in the path", "no file served: a redirect or 404, never 200", get("GET", "/v1/credentials/../../etc/passwd"), func(a answer) bool { return a.err == nil && a.status != 200 && !strings.Contains(a.body, "root:") }},
		{"PUT a valid key to profile ..%2F..%2Fpwned", "400 bad_profile; nothing stored, no file created", put("/v1/credentials/..%2F..%2Fpwned", `{"api_key":"`+good+`"}`), and(wantStatus(400, ipc.CodeBadProfile), notStored("../../pwned"))},
		{"PUT to profile %2E%2E", "400 bad_profile or redirect; nothing stored", put("/v1/credentials/%2E%2E", `{"api_key":"`+good+`"}`), and(notOK, notStored(".."))},
		{"profile with CR/LF (a%0D%0AX-Evil:%201)", "400 bad_profile; no injected header", get("GET", "/v1/credentials/a%0D%0AX-Evil:%201"), and(wantStatus(400, ipc.CodeBadProfile), noInjectedHeader)},
		{"profile with NUL (a%00b)", "400 bad_profile", get("GET", "/v1/credentials/a%00b"), wantStatus(400, ipc.CodeBadProfile)},
		{"PUT a key with CR/LF inside (JSON-escaped)", "400 bad_key; the key not echoed; nothing stored", put("/v1/credentials/crlf", `{"api_key":"`+jsonEscaped(crlfKey)+`"}`), and(wantStatus(400, ipc.CodeBadKey), noKeyEcho, notStored("crlf"))},
		{"resolve with a flag api_key holding CR/LF", "no injected header (JSON-escaped in the body, or refused)", post("/v1/resolve", `{"api_key":"sk_`+strings.Repeat("A", 32)+`\r\nX-Evil: 1"}`), and(noInjectedHeader, func(a answer) bool { return a.err == nil && !strings.Contains(a.body, "\r\n") })},
	}
	var failed []string
	for _, c := range cases {
		a := exchange(w.Sock, c.payload, 10*time.Second)
		ok := c.ok(a)
		if !ok {
			failed = append(failed, fmt.Sprintf("%s: want %s, got %s", c.what, c.expected, a))
		}
		report.add("Hostile input (socket)", c.what, c.expected, a.String(), okStr(ok))
		t.Logf("%-55s → %s", c.what, a)
	}

	// A plaintext key with CR/LF in config.json: the watcher must refuse it.
	cfgRaw := `{"api_key":"` + jsonEscaped(crlfKey) + `","api_url":"https://crlf.example"}`
	writeFile(t, w.Config, cfgRaw)
	time.Sleep(time.Second)
	b, _ := os.ReadFile(w.Config)
	_, kerr := kc.Get(t.Context(), "default")
	c := ipc.NewClient(w.Sock, 0)
	defer c.Close()
	r, rerr := c.Resolve(credstore.WithDoor(t.Context(), credstore.DoorToken), credstore.Request{Profile: "default"})
	cfgOK := string(b) == cfgRaw && errors.Is(kerr, storeerr.ErrNotFound)
	seen := fmt.Sprintf("file untouched: %v; keychain: %v", string(b) == cfgRaw, kerr)
	report.add("Hostile input (socket)", "config.json api_key holding CR/LF", "watcher refuses: file untouched, nothing stored in the keychain", seen, okStr(cfgOK))
	// Observation, not a failure: the config tier hands the value on as the
	// SDK would read it, JSON-escaped on the wire.
	report.add("Hostile input (socket)", "… then /v1/resolve for that profile", "(observation) what the config tier serves",
		fmt.Sprintf("200, source %q, the malformed value served JSON-escaped (holds CR/LF: %v); err %v", r.KeySource, strings.ContainsAny(r.Key, "\r\n"), rerr), "note")
	t.Logf("config.json CR/LF key → %s", seen)
	if !cfgOK {
		failed = append(failed, "config.json CR/LF key: "+seen)
	}
	_ = os.Remove(w.Config)

	// Far more connections than the cap, held open at once.
	n := 2000
	if full() {
		n = 10000
	}
	var conns []net.Conn
	dialErrs := 0
	for range n {
		cn, err := net.DialTimeout("unix", w.Sock, time.Second)
		if err != nil {
			dialErrs++
			continue
		}
		conns = append(conns, cn)
	}
	time.Sleep(500 * time.Millisecond)
	peakFDs := fdCount(d.PID())
	// A fresh client while the cap is reached: turned away at once (a
	// same-user denial of service; other users cannot even connect).
	fresh := ipc.NewClient(w.Sock, 0)
	fctx, fcancel := context.WithTimeout(t.Context(), 3*time.Second)
	fstart := time.Now()
	_, freshErr := fresh.Info(fctx)
	freshTook := time.Since(fstart)
	fcancel()
	fresh.Close()
	var mu sync.Mutex
	served := 0
	var wg sync.WaitGroup
	for _, cn := range conns[:min(50, len(conns))] {
		wg.Go(func() {
			_ = cn.SetDeadline(time.Now().Add(3 * time.Second))
			if _, err := cn.Write(get("GET", "/v1/health")); err != nil {
				return
			}
			if resp, err := http.ReadResponse(bufio.NewReader(cn), nil); err == nil && resp.StatusCode == 200 {
				mu.Lock()
				served++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, cn := range conns {
		cn.Close()
	}
	hc := ipc.NewClient(w.Sock, 0)
	var herr error
	recovered := eventually(t, "health after the connection flood", func() error {
		_, herr = hc.Info(t.Context())
		return herr
	})
	hc.Close()
	// The daemon closes its ends as it notices ours closed: wait for that
	// (the count is reported either way).
	afterFDs := fdCount(d.PID())
	for deadline := time.Now().Add(patience); afterFDs > baseFDs+8 && time.Now().Before(deadline); afterFDs = fdCount(d.PID()) {
		time.Sleep(20 * time.Millisecond)
	}
	floodOK := peakFDs <= baseFDs+256+16 && afterFDs <= baseFDs+8
	freshSeen := "answered"
	if freshErr != nil {
		freshSeen = "refused in " + freshTook.Round(time.Millisecond).String()
	}
	floodSeen := fmt.Sprintf("%d dialled (%d refused by the backlog); daemon fds %d before, %d peak, %d after; %d of the first 50 served while flooded; a fresh client %s; health again %s after release",
		len(conns), dialErrs, baseFDs, peakFDs, afterFDs, served, freshSeen, recovered.Round(time.Millisecond))
	report.add("Hostile input (socket)", fmt.Sprintf("%d connections opened and held", n), "open connections capped at 256 (fds bounded), the rest closed at once; all freed after", floodSeen, okStr(floodOK))
	t.Logf("connection flood → %s", floodSeen)
	if !floodOK {
		failed = append(failed, "connection flood: "+floodSeen)
	}

	for _, s := range []*slow{slowloris, slowBody} {
		a := <-s.got
		ok := s.ok(a, s.left.Load())
		report.add("Hostile input (socket)", s.what, s.expected, a.String(), okStr(ok))
		t.Logf("%-55s → %s", s.what, a)
		if !ok {
			failed = append(failed, fmt.Sprintf("%s: want %s, got %s", s.what, s.expected, a))
		}
	}

	// Nothing named after a hostile profile anywhere in the world.
	_ = filepath.WalkDir(w.Base, func(path string, de fs.DirEntry, err error) error {
		if err == nil && (strings.Contains(de.Name(), "pwned") || strings.Contains(de.Name(), "passwd")) {
			failed = append(failed, "a file appeared: "+path)
		}
		return nil
	})
	if !d.Alive() {
		t.Fatalf("the daemon died: %s", d.Stderr.String())
	}
	if _, err := c.Info(t.Context()); err != nil {
		t.Errorf("health at the end: %v", err)
	}
	for _, f := range failed {
		t.Error(f)
	}
}
