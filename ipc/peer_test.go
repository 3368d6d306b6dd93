//go:build linux

package ipc_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/ipc"
)

// helperSocketEnv makes the test binary a daemon of another user: a
// process TestClientRefusesAnotherUsersDaemon starts as nobody.
const helperSocketEnv = "TORALE_CRED_IPC_HELPER_SOCKET"

// helperWaitEnv makes the test binary, one of "our" executables to the
// server under test, wait until the file it names exists (at most a
// minute): the program a peer execs into after connecting
// (TestPeerThatExecsOurProgramIsRefused).
const helperWaitEnv = "TORALE_CRED_IPC_HELPER_WAIT"

func TestMain(m *testing.M) {
	if sock := os.Getenv(helperSocketEnv); sock != "" {
		otherUsersDaemon(sock)
		os.Exit(0)
	}
	if done := os.Getenv(helperWaitEnv); done != "" {
		for start := time.Now(); time.Since(start) < time.Minute; time.Sleep(10 * time.Millisecond) {
			if _, err := os.Stat(done); err == nil {
				break
			}
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// countingReader counts what a connection was sent.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// otherUsersDaemon listens on sock and answers every request with a
// healthy daemon's answer, counting the bytes it was sent into sock.read.
func otherUsersDaemon(sock string) {
	l, err := net.Listen("unix", sock)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_ = os.Chmod(sock, 0o666)
	const body = `{"status":"ok","version":"","keychain":"ok","watching":true}`
	var got atomic.Int64
	var mu sync.Mutex
	// report writes the count so far, atomically (the test may read it
	// while a connection is being served) and never an older one last.
	report := func() {
		mu.Lock()
		defer mu.Unlock()
		tmp := sock + ".read.tmp"
		if os.WriteFile(tmp, []byte(strconv.FormatInt(got.Load(), 10)), 0o644) == nil {
			_ = os.Rename(tmp, sock+".read")
		}
	}
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			br := bufio.NewReader(countingReader{c, &got})
			for {
				req, err := http.ReadRequest(br)
				report()
				if err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, req.Body)
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
			}
		}()
	}
}

// TestClientRefusesAnotherUsersDaemon: a socket served by another user's
// process (one that answers everything) is refused by ipc.Client before a
// byte is sent: a key is never handed to, or asked of, another user.
func TestClientRefusesAnotherUsersDaemon(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a daemon as another user (make test runs as root in CI)")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv not installed")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := shortDir(t)
	for d := dir; d != "/" && d != "/tmp"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	work := filepath.Join(dir, "w")
	if err := os.Mkdir(work, 0o777); err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(work, 0o777)
	bin := filepath.Join(dir, "ipc.test")
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(work, "cred.sock")
	cmd := exec.Command(setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", bin)
	cmd.Env = append(os.Environ(), helperSocketEnv+"="+sock)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the other user's daemon did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// It answers an ordinary client: only the uid check stands between.
	if r := call(t, httpClient(sock), "GET", "/v1/health", ""); r.status != 200 {
		t.Fatalf("the helper does not answer: %d %s", r.status, r.raw)
	}
	waitRead := func() int {
		time.Sleep(100 * time.Millisecond)
		b, _ := os.ReadFile(sock + ".read")
		n, _ := strconv.Atoi(string(b))
		return n
	}
	before := waitRead()
	if before == 0 {
		t.Fatal("the helper counted nothing of an ordinary request")
	}

	c := ipc.NewClient(sock, 2*time.Second)
	defer c.Close()
	ctx := t.Context()
	for name, do := range map[string]func() error{
		"health":  func() error { return c.Health(ctx) },
		"resolve": func() error { _, err := c.Resolve(ctx, credstore.Request{FlagKey: testKey}); return err },
		"put":     func() error { _, err := c.Put(ctx, "default", testKey, credstore.PutOptions{}); return err },
	} {
		err := do()
		if err == nil || !strings.Contains(err.Error(), "65534") || errors.Is(err, ipc.ErrNoDaemon) || strings.Contains(err.Error(), testKey) {
			t.Errorf("%s on another user's socket: %v", name, err)
		}
		var ie *ipc.Error
		if errors.As(err, &ie) {
			t.Errorf("%s: an answer was read from another user's daemon: %v", name, err)
		}
	}
	if after := waitRead(); after != before {
		t.Errorf("the other user's daemon was sent %d bytes", after-before)
	}
}
