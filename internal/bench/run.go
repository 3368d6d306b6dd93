package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/ipc"
)

// world is one private user: HOME, runtime directory, socket, keychain
// service, gpg home and password store, all under one temporary directory.
type world struct {
	tmp, sock, service, key string
	cred, git               string // the built programs
	cleanups                []func()
	daemonLog               *syncBuf // the daemon's stderr, said when a socket figure fails
}

func (w *world) cleanup(f func()) { w.cleanups = append(w.cleanups, f) }

// env is every process's environment: the caller's (its D-Bus session
// included) less what torale-cred, git or gpg would read from it, plus
// w's own places.
func (w *world) env(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "TORALE_"), strings.HasPrefix(k, "GIT_"), strings.HasPrefix(k, "LISTEN_"),
			strings.HasPrefix(k, "XDG_"), k == "HOME", k == "GNUPGHOME", k == "PASSWORD_STORE_DIR", k == "NOTIFY_SOCKET":
			continue
		}
		env = append(env, kv)
	}
	home := filepath.Join(w.tmp, "home")
	return append(append(env, "HOME="+home, "XDG_RUNTIME_DIR="+filepath.Join(w.tmp, "run"),
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "XDG_STATE_HOME="+filepath.Join(home, ".local", "state"),
		"TORALE_CRED_SOCKET="+w.sock, "TORALE_CRED_KEYCHAIN_SERVICE="+w.service,
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+filepath.Join(home, ".gitconfig"), "GIT_TERMINAL_PROMPT=0",
		"GNUPGHOME="+filepath.Join(w.tmp, "gnupg"), "PASSWORD_STORE_DIR="+filepath.Join(w.tmp, "store")), extra...)
}

// command is name with args in w, reading stdin.
func (w *world) command(stdin string, name string, args ...string) *exec.Cmd {
	c := exec.Command(name, args...)
	c.Env = w.env()
	if stdin != "" {
		c.Stdin = strings.NewReader(stdin)
	}
	return c
}

// setUp runs a set-up command; its output is never shown (it may hold
// the key), only how long it was.
func (w *world) setUp(stdin, name string, args ...string) error {
	var stderr bytes.Buffer
	c := w.command(stdin, name, args...)
	c.Stderr = &stderr
	if err := c.Run(); err != nil {
		return fmt.Errorf("%s %s: %w (%d bytes on stderr)", name, args[0], err, stderr.Len())
	}
	return nil
}

func newWorld(bin string) (*world, error) {
	tmp, err := os.MkdirTemp("", "torale-bench")
	if err != nil {
		return nil, err
	}
	w := &world{tmp: tmp, sock: filepath.Join(tmp, "run", "torale", "cred.sock"), service: "torale-bench-" + rand.Text()[:10], key: randomKey()}
	w.cleanup(func() { _ = os.RemoveAll(tmp) })
	for _, d := range []string{"home", "run", "gnupg"} {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o700); err != nil {
			return w, err
		}
	}
	for _, p := range []*string{&w.cred, &w.git} {
		name := "torale-cred"
		if p == &w.git {
			name = "git-credential-torale"
		}
		if *p, err = filepath.Abs(filepath.Join(bin, name)); err != nil {
			return w, err
		}
		if _, err := os.Stat(*p); err != nil {
			return w, fmt.Errorf("%w (run make build first)", err)
		}
	}
	return w, nil
}

func (w *world) close() {
	for i := len(w.cleanups) - 1; i >= 0; i-- {
		w.cleanups[i]()
	}
}

// runDaemon starts `torale-cred daemon` on w's socket with args and env
// added; w's cleanup stops it (SIGTERM, then a kill) and empties its
// keychain service. done closes when it exits.
func (w *world) runDaemon(args []string, env ...string) (stderr *syncBuf, done chan struct{}, err error) {
	d := exec.Command(w.cred, append([]string{"daemon", "--socket", w.sock, "--offline"}, args...)...)
	d.Env = w.env(env...)
	stderr = &syncBuf{}
	d.Stderr = stderr
	if err := d.Start(); err != nil {
		return nil, nil, err
	}
	done = make(chan struct{})
	go func() { _ = d.Wait(); close(done) }()
	w.cleanup(func() {
		_ = d.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = d.Process.Kill()
		}
	})
	w.cleanup(func() { _ = keyring.DeleteAll(w.service) })
	return stderr, done, nil
}

// startDaemon runs `torale-cred daemon`, stores the key through it and
// checks that a look-up hands it back.
func (w *world) startDaemon(ctx context.Context) error {
	// A key's created_at is never asked of api.torale.ai from here, and the
	// bench's config.json stays as it is.
	stderr, done, err := w.runDaemon([]string{"--no-endpoint"}, "TORALE_API_URL=http://127.0.0.1:9")
	if err != nil {
		return err
	}
	w.daemonLog = stderr
	c := ipc.NewClient(w.sock, 5*time.Second)
	defer c.Close()
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		_, err := c.Info(ctx)
		if err == nil {
			break
		}
		select {
		case <-done:
			return fmt.Errorf("the daemon exited: %s", stderr.String())
		default:
		}
		if time.Since(start) > 15*time.Second || ctx.Err() != nil {
			return fmt.Errorf("the daemon does not answer: %w", err)
		}
	}
	now := time.Now()
	if _, err := c.Put(ctx, credstore.DefaultProfile, w.key, credstore.PutOptions{Source: credstore.SourceLogin, CreatedAt: &now}); err != nil {
		return fmt.Errorf("storing the key through the daemon: %w", err)
	}
	ans, err := c.Resolve(credstore.WithDoor(ctx, credstore.DoorToken), credstore.Request{Profile: credstore.DefaultProfile})
	if err != nil {
		return fmt.Errorf("first look-up: %w", err)
	}
	if ans.Key != w.key || ans.KeySource != credstore.FromKeychain {
		return fmt.Errorf("first look-up answered another key, from %q", ans.KeySource)
	}
	return nil
}

// The helpers are asked for the key of https://api.torale.ai, as git asks.
const (
	torURL   = "https://api.torale.ai"
	gitAsk   = "protocol=https\nhost=api.torale.ai\n\n"
	passName = "torale/default"
)

// startGitCache starts git's credential-cache daemon on a socket of its
// own and primes it with the key; get is one `git credential-cache get`.
func (w *world) startGitCache() (get []string, err error) {
	sock := filepath.Join(w.tmp, "git-cache.sock")
	d := w.command("", "git", "credential-cache--daemon", sock)
	if err := d.Start(); err != nil {
		return nil, fmt.Errorf("git credential-cache--daemon: %w", err)
	}
	w.cleanup(func() { _ = d.Process.Kill(); _ = d.Wait() })
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Since(start) > 10*time.Second {
			return nil, errors.New("git credential-cache--daemon made no socket")
		}
	}
	cache := []string{"git", "credential-cache", "--timeout", "3600", "--socket", sock}
	if err := w.setUp(gitAsk[:len(gitAsk)-1]+"username=default\npassword="+w.key+"\n\n", cache[0], append(cache[1:], "store")...); err != nil {
		return nil, err
	}
	return append(cache, "get"), nil
}

// storeKeychainHelpers gives docker-credential-secretservice and pass the
// key (secret-tool reads torale-cred's own keychain entry). pass gets a
// throw-away gpg key without a passphrase (ed25519/cv25519, gpg's
// "future-default"), its agent stopped at the end.
func (w *world) storeKeychainHelpers() error {
	for _, tool := range []string{"docker-credential-secretservice", "secret-tool", "pass", "gpg"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%w: run .ci/deps bench (as root) to install the helpers", err)
		}
	}
	if err := w.setUp(fmt.Sprintf(`{"ServerURL":%q,"Username":"default","Secret":%q}`, torURL, w.key),
		"docker-credential-secretservice", "store"); err != nil {
		return err
	}
	w.cleanup(func() { _ = w.setUp(torURL, "docker-credential-secretservice", "erase") })
	w.cleanup(func() { _ = w.setUp("", "gpgconf", "--kill", "gpg-agent") })
	if err := w.setUp("", "gpg", "--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase", "",
		"--quick-gen-key", "torale bench <bench@torale.invalid>", "future-default", "default", "never"); err != nil {
		return err
	}
	var out bytes.Buffer
	c := w.command("", "gpg", "--batch", "--list-secret-keys", "--with-colons")
	c.Stdout = &out
	if err := c.Run(); err != nil {
		return fmt.Errorf("gpg --list-secret-keys: %w", err)
	}
	var fpr string
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Split(line, ":"); len(f) > 9 && f[0] == "fpr" {
			fpr = f[9]
			break
		}
	}
	if fpr == "" {
		return errors.New("gpg made no key")
	}
	if err := w.setUp("", "pass", "init", fpr); err != nil {
		return err
	}
	return w.setUp(w.key+"\n", "pass", "insert", "--multiline", passName)
}

// randomKey is a well-formed throw-away key ("sk_" + token_urlsafe(32),
// as the server issues them); made here, never printed.
func randomKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "sk_" + base64.RawURLEncoding.EncodeToString(b)
}

// syncBuf is a daemon's stderr, read while it runs.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// daemonSaid wraps err from a socket figure with what the daemon logged
// (never a key: the daemon logs none), so a failure says why.
func (w *world) daemonSaid(err error) error {
	if err == nil || w.daemonLog == nil {
		return err
	}
	return fmt.Errorf("%w; the daemon's log:\n%s", err, w.daemonLog.String())
}
