package daemon_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/internal/bench/sockbench"
	"github.com/torale-ai/torale-cred/internal/cli"
	"github.com/torale-ai/torale-cred/internal/testkeyring"
	"github.com/torale-ai/torale-cred/ipc"
)

// mainEnv makes the test binary run torale-cred's real main, so tests
// start the daemon and the CLI as separate processes without a build.
const mainEnv = "TORALE_CRED_TEST_MAIN"

// echoEnv makes the test binary a raw echo server on the named socket: the
// benchmarks' floor, in a separate process as the daemon is.
const echoEnv = "TORALE_CRED_TEST_ECHO"

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		os.Exit(cli.Main())
	}
	if sock := os.Getenv(echoEnv); sock != "" {
		l, err := net.Listen("unix", sock)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		_ = sockbench.EchoServe(l)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// world is one user's private torale-cred setup: its own HOME, runtime
// dir, state and keychain service name.
type world struct {
	home, run, state, config, sock, service string
	extra                                   []string
}

func newWorld(t testing.TB) *world {
	t.Helper()
	base := t.TempDir()
	w := &world{home: filepath.Join(base, "home"), run: filepath.Join(base, "run"), service: testkeyring.Service()}
	w.state = filepath.Join(w.home, ".local", "state", "torale-cred")
	w.config = filepath.Join(w.home, ".torale", "config.json")
	w.sock = filepath.Join(w.run, "torale", "cred.sock")
	for _, d := range []string{w.home, w.run, filepath.Dir(w.config)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// env is the process environment for torale-cred in this world.
func (w *world) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "TORALE_") || strings.HasPrefix(kv, "LISTEN_") || strings.HasPrefix(kv, "NOTIFY_SOCKET=") || strings.HasPrefix(kv, "WATCHDOG_") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, mainEnv+"=1", "HOME="+w.home, "XDG_RUNTIME_DIR="+w.run,
		"XDG_STATE_HOME="+filepath.Join(w.home, ".local", "state"), "TORALE_CRED_KEYCHAIN_SERVICE="+w.service)
	return append(env, w.extra...)
}

// store is the same store the CLI would open, for local answers.
func (w *world) store() *credstore.Store {
	return &credstore.Store{
		Keychain:   credstore.NewKeychain(credstore.WithService(w.service)),
		State:      credstore.StateFile{Dir: w.state},
		ConfigPath: w.config,
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type proc struct {
	cmd    *exec.Cmd
	stderr *syncBuf
	done   chan error
}

func self(t testing.TB) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// start runs the test binary as torale-cred with args in w.
func (w *world) start(t testing.TB, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(self(t), args...)
	cmd.Env = w.env()
	p := &proc{cmd: cmd, stderr: &syncBuf{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop sends SIGTERM and waits; it returns the exit error.
func (p *proc) stop(t testing.TB) error {
	select {
	case err := <-p.done:
		p.done <- err
		return err
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Errorf("process did not stop within 10s of SIGTERM; stderr:\n%s", p.stderr.String())
		return errors.New("killed")
	}
}

// daemon starts `torale-cred daemon` and waits until it answers.
func (w *world) daemon(t testing.TB, args ...string) *proc {
	t.Helper()
	p := w.start(t, append([]string{"daemon", "--socket", w.sock}, args...)...)
	waitHealthy(t, w.sock, p)
	return p
}

func waitHealthy(t testing.TB, sock string, p *proc) {
	t.Helper()
	c := ipc.NewClient(sock)
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.Health(ctx)
		cancel()
		if err == nil {
			return
		}
		if p != nil {
			select {
			case perr := <-p.done:
				p.done <- perr
				t.Fatalf("daemon exited (%v): %s", perr, p.stderr.String())
			default:
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon on %s does not answer: %v", sock, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cli runs torale-cred with stdin and returns stdout, stderr, exit code.
func (w *world) cli(t *testing.T, stdin string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(self(t), args...)
	cmd.Env = append(w.env(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func eventually(t *testing.T, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func dialRaw(t *testing.T, sock string) net.Conn {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
