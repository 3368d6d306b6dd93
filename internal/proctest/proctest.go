// Package proctest holds a private user's world of real torale-cred
// processes for end-to-end tests: its own HOME, runtime dir, state dir and
// keychain service name, and the processes started in it. It must never
// fake the daemon or the keychain, nor be imported by anything but tests.
package proctest

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/internal/testkeyring"
	"github.com/torale-ai/torale-cred/ipc"
)

// MainEnv makes the test binary run torale-cred's real main, so tests
// start the daemon and the CLI as separate processes without a build: a
// TestMain that imports this package runs cli.Main when it is "1".
const MainEnv = "TORALE_CRED_TEST_MAIN"

// stopWait is how long Stop waits after SIGTERM before it kills.
const stopWait = 10 * time.Second

// storeWait bounds each keychain call of Store, far past any stall.
const storeWait = 30 * time.Second

// healthWait is how long WaitHealthy waits for a daemon to answer.
const healthWait = 15 * time.Second

// programNames are the shipped programs, each a main under cmd/.
var programNames = []string{"torale-cred", "git-credential-torale"}

// BuildPrograms builds the shipped programs (torale-cred and
// git-credential-torale, one program under two names) into dir as make
// build does (static, trimmed paths), for tests that run them as users do.
func BuildPrograms(dir string) error {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return errors.New("the go command is not on PATH")
	}
	args := []string{"build", "-trimpath", "-o", dir + string(filepath.Separator)}
	for _, c := range programNames {
		args = append(args, "github.com/torale-ai/torale-cred/cmd/"+c)
	}
	cmd := exec.Command(goCmd, args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	return nil
}

// BinEnv names a directory holding the shipped programs that make build
// wrote for this checkout: make test sets it to a copy of its bin/, so
// tests run what users run without linking it again (seconds of CPU each
// time).
const BinEnv = "TORALE_CRED_TEST_BIN"

// Programs is a directory of the shipped programs: BinEnv's, which must be
// an absolute path holding both (an error otherwise, never a skip), else a
// temporary one built by BuildPrograms, so that a plain go test runs
// this checkout's code and never a stale build. done removes what
// Programs built.
func Programs() (dir string, done func(), err error) {
	if dir = os.Getenv(BinEnv); dir != "" {
		if !filepath.IsAbs(dir) {
			return "", nil, fmt.Errorf("%s=%s: not an absolute path", BinEnv, dir)
		}
		for _, c := range programNames {
			fi, err := os.Stat(filepath.Join(dir, c))
			if err == nil && (!fi.Mode().IsRegular() || fi.Mode()&0o111 == 0) {
				err = errors.New("not an executable file")
			}
			if err != nil {
				return "", nil, fmt.Errorf("%s=%s: no program %s there (run make build): %w", BinEnv, dir, c, err)
			}
		}
		return dir, func() {}, nil
	}
	dir, err = os.MkdirTemp("", "torale-cred-bin-")
	if err != nil {
		return "", nil, err
	}
	done = func() { _ = os.RemoveAll(dir) }
	if err := BuildPrograms(dir); err != nil {
		done()
		return "", nil, err
	}
	return dir, done, nil
}

// WithPrograms is a TestMain's run with the shipped programs: run gets
// Programs' directory, and what Programs built is removed after it. A
// failure to find or build them is said on stderr and exit code 1.
func WithPrograms(run func(dir string) int) int {
	dir, done, err := Programs()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer done()
	return run(dir)
}

// World is one user's private torale-cred setup: its own HOME, runtime
// dir, state and keychain service name, all under one temporary Base.
type World struct {
	Base    string // the test's temporary directory, holding the rest
	Home    string // HOME
	Run     string // XDG_RUNTIME_DIR
	State   string // torale-cred's state dir under XDG_STATE_HOME
	Config  string // ~/.torale/config.json
	Sock    string // the daemon's default socket under Run
	Service string // the keychain service name, unique to the test

	// Extra is appended to every process's environment.
	Extra []string

	// OnStart, when set, is called with every process Start starts, once
	// it runs and before its stop is registered as a cleanup.
	OnStart func(*Proc)
	// OnCLI, when set, is called with the stderr of every CLI run that
	// exited, after it exited.
	OnCLI func(stderr *SyncBuf)

	// Bin, when set, is a directory of built programs (BuildPrograms):
	// Start and CLI run its torale-cred instead of the test binary.
	Bin string
}

// Program is what Start and CLI run: Bin's torale-cred, else the test
// binary (Self).
func (w *World) Program(t testing.TB) string {
	t.Helper()
	if w.Bin != "" {
		return filepath.Join(w.Bin, "torale-cred")
	}
	return Self(t)
}

// NewWorld makes a world under t.TempDir, with HOME, the runtime dir and
// the config dir created (0700). It registers no cleanup of its own
// beyond t.TempDir's.
func NewWorld(t testing.TB) *World {
	t.Helper()
	base := t.TempDir()
	w := &World{Base: base, Home: filepath.Join(base, "home"), Run: filepath.Join(base, "run"), Service: testkeyring.Service()}
	w.State = filepath.Join(w.Home, ".local", "state", "torale-cred")
	w.Config = filepath.Join(w.Home, ".torale", "config.json")
	w.Sock = filepath.Join(w.Run, "torale", "cred.sock")
	for _, d := range []string{w.Home, w.Run, filepath.Dir(w.Config)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// Env is the process environment for torale-cred in this world: this
// process's, without any TORALE_, LISTEN_, NOTIFY_SOCKET or WATCHDOG_
// variable, then MainEnv=1, the world's directories and service, then
// Extra.
func (w *World) Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "TORALE_") || strings.HasPrefix(kv, "LISTEN_") || strings.HasPrefix(kv, "NOTIFY_SOCKET=") || strings.HasPrefix(kv, "WATCHDOG_") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, MainEnv+"=1", "HOME="+w.Home, "XDG_RUNTIME_DIR="+w.Run,
		"XDG_STATE_HOME="+filepath.Join(w.Home, ".local", "state"), "TORALE_CRED_KEYCHAIN_SERVICE="+w.Service,
		"TORALE_CRED_OFFLINE=1") // test keys never go to the real Torale API
	return append(env, w.Extra...)
}

// Store is the same store the CLI would open, for local answers, except
// its keychain bound: a test's own reads and writes seed and check keys,
// and under a loaded CI one write to gnome-keyring outlasted the CLI's 3 s.
func (w *World) Store() *credstore.Store {
	return &credstore.Store{
		Keychain:   keychain.New(keychain.WithService(w.Service), keychain.WithTimeout(storeWait)),
		StateFile:  credstore.StateFile{Dir: w.State},
		ConfigPath: w.Config,
	}
}

// SyncBuf is a bytes.Buffer safe to write from a process's output while
// a test reads it.
type SyncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }

// String is everything written so far.
func (s *SyncBuf) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// Proc is a torale-cred process started by Start.
type Proc struct {
	Cmd    *exec.Cmd // started; its Wait is proctest's
	Stderr *SyncBuf  // everything the process wrote to stderr
	// Done holds Wait's error once the process exited; whoever takes it
	// puts it back, so that it is there for the next one.
	Done chan error
}

// PID is the process's id.
func (p *Proc) PID() int { return p.Cmd.Process.Pid }

// Alive says the process has not exited.
func (p *Proc) Alive() bool {
	select {
	case err := <-p.Done:
		p.Done <- err
		return false
	default:
		return true
	}
}

// Self is the test binary, which runs torale-cred with MainEnv=1.
func Self(t testing.TB) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// Start runs the test binary as torale-cred with args in w, its
// environment Env then env; it is stopped (Stop) when t is cleaned up.
func (w *World) Start(t testing.TB, env []string, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command(w.Program(t), args...)
	cmd.Env = append(w.Env(), env...)
	p := &Proc{Cmd: cmd, Stderr: &SyncBuf{}, Done: make(chan error, 1)}
	cmd.Stderr = p.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if w.OnStart != nil {
		w.OnStart(p)
	}
	go func() { p.Done <- cmd.Wait() }()
	t.Cleanup(func() { p.Stop(t) })
	return p
}

// Stop sends SIGTERM and waits, killing the process 10 s later (an
// error of t); it returns the exit error.
func (p *Proc) Stop(t testing.TB) error {
	select {
	case err := <-p.Done:
		p.Done <- err
		return err
	default:
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.Done:
		p.Done <- err
		return err
	case <-time.After(stopWait):
		_ = p.Cmd.Process.Kill()
		t.Errorf("process did not stop within %s of SIGTERM; stderr:\n%s", stopWait, p.Stderr.String())
		return errors.New("killed")
	}
}

// Daemon starts `torale-cred daemon --socket w.Sock` with args and waits
// until it answers (WaitHealthy).
func (w *World) Daemon(t testing.TB, env []string, args ...string) *Proc {
	t.Helper()
	p := w.Start(t, env, append([]string{"daemon", "--socket", w.Sock}, args...)...)
	WaitHealthy(t, w.Sock, p)
	return p
}

// WaitHealthy waits up to 15 s for the daemon on sock to answer its
// health check, failing t then, or at once if p (when not nil) exited.
func WaitHealthy(t testing.TB, sock string, p *Proc) {
	t.Helper()
	c := ipc.NewClient(sock, 0)
	defer c.Close()
	deadline := time.Now().Add(healthWait)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.Info(ctx)
		cancel()
		if err == nil {
			return
		}
		if p != nil {
			select {
			case perr := <-p.Done:
				p.Done <- perr
				t.Fatalf("daemon exited (%v): %s", perr, p.Stderr.String())
			default:
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon on %s does not answer: %v", sock, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// CLI runs torale-cred with stdin, its environment Env then env, and
// returns stdout, stderr and the exit code.
func (w *World) CLI(t testing.TB, stdin string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(w.Program(t), args...)
	cmd.Env = append(w.Env(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	errb := &SyncBuf{}
	cmd.Stdout, cmd.Stderr = &out, errb
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if w.OnCLI != nil {
		w.OnCLI(errb)
	}
	return out.String(), errb.String(), code
}

// SetParallel sets -test.parallel to n unless go test was given it: the
// default, GOMAXPROCS (2 here), would queue parallel tests that spend most
// of their time waiting on processes (daemons, sshd, timeouts, the Secret
// Service), not computing. Call it from TestMain, before the tests run.
func SetParallel(n int) error {
	flag.Parse()
	told := false
	flag.Visit(func(f *flag.Flag) { told = told || f.Name == "test.parallel" })
	if told {
		return nil
	}
	if err := flag.Set("test.parallel", strconv.Itoa(n)); err != nil {
		return fmt.Errorf("setting -test.parallel: %w", err)
	}
	return nil
}
