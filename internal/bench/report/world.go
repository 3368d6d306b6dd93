package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/torale-ai/torale-cred/ipc"
)

// program is torale-cred or git-credential-torale: a built binary, or this
// program re-run in that role.
type program struct {
	path string
	env  []string // the role variable when this program plays it
}

func programs(bin string) (cred, git program, err error) {
	if bin == "" {
		self, err := os.Executable()
		if err != nil {
			return cred, git, err
		}
		return program{self, []string{roleEnv + "=" + roleCred}}, program{self, []string{roleEnv + "=" + roleGitCred}}, nil
	}
	cred = program{path: filepath.Join(bin, "torale-cred")}
	git = program{path: filepath.Join(bin, "git-credential-torale")}
	for _, p := range []program{cred, git} {
		if _, err := os.Stat(p.path); err != nil {
			return cred, git, fmt.Errorf("%w (run make build first)", err)
		}
	}
	if cred.path, err = filepath.Abs(cred.path); err != nil {
		return cred, git, err
	}
	git.path, err = filepath.Abs(git.path)
	return cred, git, err
}

// world is one user's private torale-cred setup: HOME, runtime directory,
// state, config.json, socket and a keychain service of its own.
type world struct {
	home, run, config, sock, service string
}

func newWorld(base, name string) (*world, error) {
	d := filepath.Join(base, name)
	w := &world{home: filepath.Join(d, "home"), run: filepath.Join(d, "run"), service: "torale-bench-" + randHex(6)}
	w.config = filepath.Join(w.home, ".torale", "config.json")
	w.sock = filepath.Join(w.run, "torale", "cred.sock")
	for _, dir := range []string{w.home, w.run, filepath.Dir(w.config)} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// env is the environment of every process in w: the caller's, less
// anything torale-cred, systemd or git would read from it, plus w's paths.
func (w *world) env(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "TORALE_") || strings.HasPrefix(k, "LISTEN_") || strings.HasPrefix(k, "GIT_") ||
			k == "NOTIFY_SOCKET" || strings.HasPrefix(k, "WATCHDOG_") || k == "HOME" || strings.HasPrefix(k, "XDG_CONFIG") || k == "XDG_RUNTIME_DIR" || k == "XDG_STATE_HOME" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+w.home, "XDG_RUNTIME_DIR="+w.run, "XDG_CONFIG_HOME="+filepath.Join(w.home, ".config"),
		"XDG_STATE_HOME="+filepath.Join(w.home, ".local", "state"), "TORALE_CRED_KEYCHAIN_SERVICE="+w.service,
		"TORALE_CRED_SOCKET="+w.sock, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+filepath.Join(w.home, ".gitconfig"),
		"GIT_TERMINAL_PROMPT=0")
	return append(env, extra...)
}

// daemonEnv keeps the reminder's created_at look-up on this machine: a key
// stored without a creation date would otherwise be sent to api.torale.ai.
const daemonEnv = "TORALE_API_URL=http://127.0.0.1:9"

// proc is a started daemon.
type proc struct {
	cmd    *exec.Cmd
	stderr *syncBuf
	done   chan error
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// startDaemon runs `torale-cred daemon` in w with extra environment.
func startDaemon(cred program, w *world, extra ...string) (*proc, error) {
	return startDaemonArgs(cred, w, []string{"--socket", w.sock}, extra...)
}

// startDaemonArgs is startDaemon with the daemon's own arguments.
func startDaemonArgs(cred program, w *world, args []string, extra ...string) (*proc, error) {
	cmd := exec.Command(cred.path, append([]string{"daemon"}, args...)...)
	cmd.Env = w.env(append(append([]string{daemonEnv}, cred.env...), extra...)...)
	p := &proc{cmd: cmd, stderr: &syncBuf{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.done <- cmd.Wait() }()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports the exit error when the process has ended.
func (p *proc) exited() (error, bool) {
	select {
	case err := <-p.done:
		p.done <- err
		return err, true
	default:
		return nil, false
	}
}

// stop sends SIGTERM and waits (SIGKILL after 10 s).
func (p *proc) stop() error {
	if err, ok := p.exited(); ok {
		return err
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		return errors.New("did not stop within 10s of SIGTERM; killed")
	}
}

// waitHealthy waits until the daemon answers /v1/health.
func waitHealthy(ctx context.Context, p *proc, sock string) error {
	c := ipc.NewClient(sock, 0)
	defer c.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		hctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := c.Info(hctx)
		cancel()
		if err == nil {
			return nil
		}
		if perr, ok := p.exited(); ok {
			return fmt.Errorf("the daemon exited (%v): %s", perr, p.stderr.String())
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("the daemon on %s does not answer: %w\n%s", sock, err, p.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// notifyListener is a NOTIFY_SOCKET as systemd provides: a datagram
// socket; each message arrives with the time it was read.
type notifyListener struct {
	path string
	c    *net.UnixConn
	msgs chan notifyMsg
}

type notifyMsg struct {
	text string
	at   time.Time
}

func listenNotify(dir string) (*notifyListener, error) {
	path := filepath.Join(dir, "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	n := &notifyListener{path: path, c: c, msgs: make(chan notifyMsg, 64)}
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := c.Read(buf)
			if err != nil {
				close(n.msgs)
				return
			}
			n.msgs <- notifyMsg{string(buf[:k]), time.Now()}
		}
	}()
	return n, nil
}

func (n *notifyListener) drain() {
	for {
		select {
		case <-n.msgs:
		default:
			return
		}
	}
}

// wait returns when a message containing want arrived.
func (n *notifyListener) wait(want string, d time.Duration) (time.Time, error) {
	timeout := time.After(d)
	for {
		select {
		case m, ok := <-n.msgs:
			if !ok {
				return time.Time{}, errors.New("notify socket closed")
			}
			if strings.Contains(m.text, want) {
				return m.at, nil
			}
		case <-timeout:
			return time.Time{}, fmt.Errorf("no %q on NOTIFY_SOCKET within %s", want, d)
		}
	}
}

// randomKey is a well-formed throw-away key, as the live server issues
// them ("sk_" + token_urlsafe(32)); made at run time, never printed.
func randomKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "sk_" + base64.RawURLEncoding.EncodeToString(b)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
