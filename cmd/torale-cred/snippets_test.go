//go:build !race

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/internal/testkeyring"
)

// The README's "Use from your scripts" quotes these files; the tests below
// run them, so the documentation cannot rot.
var (
	readmePath = filepath.Join("..", "..", "README.md")
	snippets   = map[string]string{ // interpreter → file
		"python3": filepath.Join("..", "..", "testdata", "snippets", "resolve.py"),
		"node":    filepath.Join("..", "..", "testdata", "snippets", "resolve.js"),
	}
	// curlLine is the README's curl example, run as written.
	curlLine = `curl --unix-socket "$XDG_RUNTIME_DIR/torale/cred.sock" http://torale/v1/resolve -d '{}'`
)

const (
	storedKey = "sk_abc123def456ghi789jkl012mno345pqRST"
	envKey    = "sk_ENVenvENVenvENVenvENVenvENVenv1234"
)

func TestREADMEQuotesSnippets(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range snippets {
		snippet, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(readme, snippet) {
			t.Errorf("README.md does not quote %s verbatim; paste the file's text into its code block", path)
		}
	}
	if !bytes.Contains(readme, []byte(curlLine)) {
		t.Errorf("README.md lacks the curl example %s", curlLine)
	}
}

// TestSnippetsAgainstDaemon runs the README's Python and Node snippets and
// its curl line against a real `torale-cred daemon` over the real Secret
// Service, with a stand-in Torale API that checks the Bearer key. It skips
// while the daemon command is still a stub.
func TestSnippetsAgainstDaemon(t *testing.T) {
	t.Parallel()
	testkeyring.Require(t)
	env := isolatedEnv(t)

	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		emails := map[string]string{"Bearer " + storedKey: "stored@example.com", "Bearer " + envKey: "env@example.com"}
		email, ok := emails[r.Header.Get("Authorization")]
		if r.URL.Path != "/auth/me" || !ok {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"detail": "Invalid API key"}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"id": "1", "email": email, "state": "active"})
	}))
	defer api.Close()

	login := exec.Command("torale-cred", "login")
	login.Env = env
	login.Stdin = strings.NewReader(storedKey + "\n")
	if out, err := login.CombinedOutput(); err != nil {
		t.Fatalf("login: %v\n%s", err, out)
	}
	startDaemon(t, env)

	t.Run("curl", func(t *testing.T) {
		if _, err := exec.LookPath("curl"); err != nil {
			needTool(t, "curl")
		}
		cmd := exec.Command("sh", "-c", curlLine)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("curl: %v", err)
		}
		var r struct {
			APIKey    string `json:"api_key"`
			KeySource string `json:"api_key_source"`
		}
		if err := json.Unmarshal(out, &r); err != nil || r.APIKey != storedKey || r.KeySource != "keychain" {
			t.Fatalf("curl answer %s (%v)", out, err)
		}
	})
	for interp, path := range snippets {
		t.Run(interp, func(t *testing.T) {
			if _, err := exec.LookPath(interp); err != nil {
				needTool(t, interp)
			}
			run := func(extra ...string) (string, string, error) {
				cmd := exec.Command(interp, path)
				cmd.Env = append(append([]string{}, env...), "TORALE_API_URL="+api.URL)
				cmd.Env = append(cmd.Env, extra...)
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				err := cmd.Run()
				return stdout.String(), stderr.String(), err
			}
			out, errOut, err := run()
			if err != nil || out != "stored@example.com\n" {
				t.Fatalf("stored key: stdout %q, err %v\n%s", out, err, errOut)
			}
			// The caller's environment beats the stored key.
			out, errOut, err = run("TORALE_API_KEY=" + envKey)
			if err != nil || out != "env@example.com\n" {
				t.Fatalf("environment key: stdout %q, err %v\n%s", out, err, errOut)
			}
			// A profile without a key: the snippet fails with the daemon's sentence.
			out, errOut, err = run("TORALE_PROFILE=nokey")
			if err == nil || out != "" || !strings.Contains(strings.ToLower(errOut), "no api key") {
				t.Fatalf("no key: stdout %q, err %v, stderr %q", out, err, errOut)
			}
			if strings.Contains(errOut, storedKey) {
				t.Fatal("the key reached stderr")
			}
			// No daemon: one clear sentence, no traceback.
			out, errOut, err = run("TORALE_CRED_SOCKET=" + filepath.Join(t.TempDir(), "none.sock"))
			if err == nil || out != "" || strings.TrimSpace(errOut) != "torale-cred's daemon is not running; start it: systemctl --user start torale-cred.socket (or run: torale-cred daemon)" {
				t.Fatalf("no daemon: stdout %q, err %v, stderr %q", out, err, errOut)
			}
		})
	}
}

func needTool(t *testing.T, name string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed; the README's examples must be tested in CI", name)
	}
	t.Skipf("%s is not installed", name)
}

// isolatedEnv is the process environment with a temporary HOME, XDG
// directories and keychain service, and no Torale variables.
func isolatedEnv(t *testing.T) []string {
	dir := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "TORALE_"), strings.HasPrefix(name, "XDG_"), name == "HOME":
			continue
		}
		env = append(env, kv)
	}
	run := filepath.Join(dir, "run")
	if err := os.MkdirAll(run, 0o700); err != nil {
		t.Fatal(err)
	}
	return append(env,
		"HOME="+filepath.Join(dir, "home"),
		"XDG_RUNTIME_DIR="+run,
		"XDG_STATE_HOME="+filepath.Join(dir, "state"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"TORALE_CRED_KEYCHAIN_SERVICE="+testkeyring.Service(),
		"TORALE_CRED_OFFLINE=1", // test keys never go to the real Torale API
	)
}

// lockedBuffer collects a child's stderr while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startDaemon runs `torale-cred daemon` until the test ends and waits until
// its socket answers /v1/health. It skips the test while the daemon command
// is the "not built yet" stub.
func startDaemon(t *testing.T, env []string) {
	t.Helper()
	var run string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "XDG_RUNTIME_DIR="); ok {
			run = v
		}
	}
	sock := filepath.Join(run, "torale", "cred.sock")
	cmd := exec.Command("torale-cred", "daemon")
	cmd.Env = env
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("the daemon did not stop on SIGTERM; stderr:\n%s", stderr.String())
		}
	})
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}}
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err // for the cleanup
			if strings.Contains(stderr.String(), "not built yet") {
				t.Skip("torale-cred daemon is still a stub")
			}
			t.Fatalf("the daemon exited (%v):\n%s", err, stderr.String())
		default:
		}
		if resp, err := client.Get("http://torale/v1/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon did not answer on %s within 15 s:\n%s", sock, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
