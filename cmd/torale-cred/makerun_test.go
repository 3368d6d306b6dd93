//go:build unix && !race

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// makeRunKey is a well-formed key no server knows.
const makeRunKey = "sk_MakeRunKeepsMeMakeRunKeepsMe12345"

// TestMakeRunKeepsTheKey is the blocker of issue 25 as a user met it: on a
// machine with no Secret Service, `make run` moved the real plaintext key
// out of ~/.torale/config.json into a keyring it threw away when stopped,
// so the next `make run` had lost it. Two runs in a row, a real key in a
// fresh HOME, Ctrl-C between them: the second still serves the key.
func TestMakeRunKeepsTheKey(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs make run twice")
	}
	for _, c := range []string{"make", "gnome-keyring-daemon", "dbus-run-session", "dbus-send", "flock"} {
		if _, err := exec.LookPath(c); err != nil {
			if os.Getenv("CI") != "" || os.Getenv("TORALE_CRED_REQUIRE_KEYRING") == "1" {
				t.Fatalf("make run needs %s", c)
			}
			t.Skipf("make run needs %s", c)
		}
	}
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	home, run := t.TempDir(), t.TempDir()
	if err := os.Chmod(run, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(home, ".torale", "config.json")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(`{"api_key": "`+makeRunKey+`", "api_url": "https://api.torale.ai"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	// A user's login environment without a Secret Service: no bus, none
	// of the test suite's own keyring variables; Go's caches kept so the
	// build inside make run is quick.
	env := []string{"HOME=" + home, "XDG_RUNTIME_DIR=" + run, "PATH=" + os.Getenv("PATH"), "LANG=C",
		"TORALE_CRED_OFFLINE=1"} // the test key never goes to the real Torale API
	for _, k := range []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOROOT", "GOTOOLCHAIN", "GOFLAGS", "GOPROXY", "TMPDIR"} {
		v := os.Getenv(k)
		if v == "" && strings.HasPrefix(k, "GO") {
			out, err := exec.Command("go", "env", k).Output()
			if err == nil {
				v = strings.TrimSpace(string(out))
			}
		}
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	bin := filepath.Join(repo, "bin", "torale-cred")
	sock := filepath.Join(run, "torale", "cred.sock")

	// token with no bus of its own: only the daemon can answer it.
	token := func() (string, string, error) {
		var out, errOut bytes.Buffer
		cmd := exec.Command(bin, "token")
		cmd.Env, cmd.Stdout, cmd.Stderr = env, &out, &errOut
		err := cmd.Run()
		return out.String(), errOut.String(), err
	}

	for i := 1; i <= 2; i++ {
		var log bytes.Buffer
		cmd := exec.Command("make", "--no-print-directory", "-C", repo, "run")
		cmd.Env, cmd.Stdout, cmd.Stderr = env, &log, &log
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		stop := func() {
			// Ctrl-C, as a user stops it: SIGINT to the whole foreground group.
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
			select {
			case <-exited:
			case <-time.After(20 * time.Second):
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-exited
				t.Errorf("run %d: make run did not stop within 20 s of Ctrl-C", i)
			}
		}

		var got, stderr string
		deadline := time.Now().Add(90 * time.Second) // the first run builds bin/
		for {
			if _, err := os.Stat(sock); err == nil {
				got, stderr, err = token()
				// moved: a local token (tcl_) or nothing stands there now
				if err == nil && !strings.Contains(readFile(t, cfg), `"sk_`) {
					break
				}
			}
			select {
			case err := <-exited:
				t.Fatalf("run %d: make run exited early (%v):\n%s", i, err, log.String())
			default:
			}
			if time.Now().After(deadline) {
				stop()
				t.Fatalf("run %d: the daemon never served the key (token said %q); config.json: %s\nmake run said:\n%s", i, stderr, readFile(t, cfg), log.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
		stop()
		if got != makeRunKey+"\n" {
			t.Fatalf("run %d: token printed %d bytes, not the key moved out of config.json", i, len(got))
		}
		out := log.String()
		if strings.Contains(out, makeRunKey) {
			t.Errorf("run %d: make run's output holds the key", i)
		}
		dir := filepath.Join(home, ".local", "share", "torale-cred", "make-run-keyring")
		if !strings.Contains(out, "kept across runs in "+dir) || !strings.Contains(out, "password: torale-test") {
			t.Errorf("run %d: make run does not say where its keyring is kept and which password unlocks it:\n%s", i, out)
		}
		if i == 2 && !strings.Contains(out, "its keyring (existing)") {
			t.Errorf("run 2 did not find run 1's keyring:\n%s", out)
		}
		if _, err := os.Stat(filepath.Join(dir, "keyrings", "login.keyring")); err != nil {
			t.Errorf("run %d: no keyring file kept: %v", i, err)
		}
		if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("run %d: the socket is still there after Ctrl-C (%v)", i, err)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return string(b)
}
