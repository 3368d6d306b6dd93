//go:build linux

package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/internal/proctest"
	"github.com/torale-ai/torale-cred/internal/testkeyring"
	"github.com/torale-ai/torale-cred/ipc"
)

// notifySocket is a NOTIFY_SOCKET as systemd provides: a datagram socket
// that collects what the service sends.
type notifySocket struct {
	path string
	msgs chan string
}

func listenNotify(t *testing.T) *notifySocket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	n := &notifySocket{path: path, msgs: make(chan string, 256)}
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := c.Read(buf)
			if err != nil {
				close(n.msgs)
				return
			}
			n.msgs <- string(buf[:k])
		}
	}()
	return n
}

// wait returns the first message containing want. The deadline only turns
// a hang into a failure.
func (n *notifySocket) wait(t *testing.T, want string) string {
	t.Helper()
	timeout := time.After(patience)
	for {
		select {
		case m, ok := <-n.msgs:
			if !ok {
				t.Fatalf("notify socket closed waiting for %q", want)
			}
			if strings.Contains(m, want) {
				return m
			}
		case <-timeout:
			t.Fatalf("no %q on NOTIFY_SOCKET within %s", want, patience)
		}
	}
}

// TestSocketActivation runs the daemon the way torale-cred.socket does,
// through systemd-socket-activate: it must take the passed socket, serve
// on it, say READY=1, keep pinging the watchdog, say STOPPING=1 on
// SIGTERM and leave the socket (systemd's) in place. That the pings come
// at half WATCHDOG_USEC is TestWatchdogPingsAtHalfTheInterval's, with
// ticks of its own: a gap measured here would measure the machine.
func TestSocketActivation(t *testing.T) {
	t.Parallel()
	testkeyring.Require(t)
	ssa, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		t.Skip("systemd-socket-activate not installed (package systemd)")
	}
	w := proctest.NewWorld(t)
	sockDir := filepath.Join(w.Run, "torale")
	if err := os.MkdirAll(sockDir, 0o700); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(sockDir, "activated.sock")
	n := listenNotify(t)
	// 2 s: pings every second, each after a self-check bounded by 500 ms;
	// a loaded machine (this test runs beside the package's others) may
	// miss some, never all of them.
	const watchdogUsec = 2000000
	args := []string{"-l", sock, "-E", "NOTIFY_SOCKET=" + n.path, "-E", fmt.Sprintf("WATCHDOG_USEC=%d", watchdogUsec)}
	for _, kv := range w.Env() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case proctest.MainEnv, "HOME", "XDG_RUNTIME_DIR", "XDG_STATE_HOME", "TORALE_CRED_KEYCHAIN_SERVICE", "DBUS_SESSION_BUS_ADDRESS", "PATH", "GORACE":
			args = append(args, "-E", kv)
		}
	}
	// --socket names a different path on purpose: an activated daemon must
	// serve the socket it is given, not make its own.
	args = append(args, proctest.Self(t), "daemon", "--socket", w.Sock)
	cmd := exec.Command(ssa, args...)
	errb := &proctest.SyncBuf{}
	cmd.Stderr = errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// done holds Wait's error once it exited; whoever takes it puts it
	// back, so the cleanup finds it instead of waiting out its bound.
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case err := <-done:
			done <- err
		case <-time.After(patience):
			t.Error("systemd-socket-activate did not exit once killed")
		}
	})
	// systemd-socket-activate listens first and starts the program on the
	// first connection. The file exists between its bind and its listen,
	// so wait for a connection to be taken, not for the file.
	deadline := time.Now().Add(patience)
	for {
		if conn, err := net.Dial("unix", sock); err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("systemd-socket-activate made no socket: %s", errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	c := newClient(sock)
	defer c.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 2*patience)
	defer cancel()
	h, err := c.Info(ctx)
	if err != nil || h.Status != "ok" {
		t.Fatalf("activated daemon: %+v %v\n%s", h, err, errb.String())
	}
	ready := n.wait(t, "READY=1")
	if !strings.Contains(ready, "STATUS=serving on "+sock) {
		t.Errorf("READY without the status line: %q", ready)
	}
	if _, err := os.Stat(w.Sock); err == nil {
		t.Error("an activated daemon also made its own socket")
	}
	if out, err := exec.Command("curl", "-sS", "--unix-socket", sock, "-d", `{"env":{"TORALE_API_KEY":"`+keyEnv+`"}}`, "http://torale/v1/resolve").CombinedOutput(); err != nil || !strings.Contains(string(out), `"api_key_source":"env"`) {
		t.Errorf("curl on the activated socket: %v %s", err, out)
	}

	// The watchdog keeps being pinged after READY=1: not once, a series.
	for range 3 {
		n.wait(t, "WATCHDOG=1")
	}

	// Resolve a stored key on the activated socket too.
	if _, err := c.Put(ctx, "default", keyStored, credstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if r, err := c.Resolve(tokenDoor(ctx), credstore.Request{Profile: "default"}); err != nil || r.Key != keyStored {
		t.Fatalf("resolve: %+v %v", r, err)
	}
	_ = c.Delete(ctx, "default")

	// SIGTERM (systemd-socket-activate exec'd the daemon in its place).
	_ = cmd.Process.Signal(syscall.SIGTERM)
	n.wait(t, "STOPPING=1")
	select {
	case err := <-done:
		done <- err
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, errb.String())
		}
	case <-time.After(patience):
		t.Fatal("did not exit after SIGTERM")
	}
	if _, err := os.Lstat(sock); err != nil {
		t.Errorf("the daemon removed systemd's socket: %v", err)
	}
}

// TestKeychainOutageAndRecovery runs the daemon on a session bus with no
// Secret Service: it keeps serving (health says why, stored look-ups are
// 503, flag and environment keys are answered), and once a Secret Service
// appears on the bus it recovers without a restart.
func TestKeychainOutageAndRecovery(t *testing.T) {
	t.Parallel()
	testkeyring.Require(t)
	dbusDaemon, err1 := exec.LookPath("dbus-daemon")
	gkd, err2 := exec.LookPath("gnome-keyring-daemon")
	if err1 != nil || err2 != nil {
		t.Skip("dbus-daemon or gnome-keyring-daemon not installed")
	}
	dir := t.TempDir()
	busPath := filepath.Join(dir, "bus")
	conf := filepath.Join(dir, "session.conf")
	// A session bus with no service directory: nothing can be activated, so
	// the Secret Service is absent until started by hand.
	writeFile(t, conf, `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:path=`+busPath+`</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy></busconfig>`)
	bus := exec.Command(dbusDaemon, "--config-file="+conf, "--nofork", "--nopidfile")
	if err := bus.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Process.Kill(); _ = bus.Wait() })
	addr := "unix:path=" + busPath
	deadline := time.Now().Add(patience)
	for {
		if _, err := os.Stat(busPath); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("private bus did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}

	w := proctest.NewWorld(t)
	w.Extra = []string{"DBUS_SESSION_BUS_ADDRESS=" + addr}
	p := w.Daemon(t, nil)
	c := newClient(w.Sock)
	defer c.Close()
	ctx := t.Context()
	h, err := c.Info(ctx)
	if err != nil || !strings.HasPrefix(h.Keychain, "unavailable: ") || !strings.Contains(h.Keychain, "Secret Service") {
		t.Fatalf("health without a Secret Service: %+v %v", h, err)
	}
	_, err = c.Resolve(tokenDoor(ctx), credstore.Request{Profile: "default"})
	var ie *ipc.Error
	if !errors.As(err, &ie) || ie.Status != 503 || ie.Code != ipc.CodeKeychain || errors.Is(err, storeerr.ErrNotFound) {
		t.Fatalf("stored look-up without a keychain: %v", err)
	}
	if r, err := c.Resolve(tokenDoor(ctx), credstore.Request{Profile: "default", Env: credstore.Env{APIKey: keyEnv}}); err != nil || r.Key != keyEnv {
		t.Fatalf("env key without a keychain: %+v %v", r, err)
	}
	// The CLI through the daemon: exit 4, never "no key".
	_, errOut, code := w.CLI(t, "", nil, "token")
	if code != 4 || strings.Contains(errOut, "No API key") {
		t.Fatalf("token while the keychain is down: %d %s", code, errOut)
	}

	// The Secret Service comes up on the bus.
	kr := exec.Command(gkd, "--foreground", "--unlock", "--components=secrets")
	kr.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS="+addr, "XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_RUNTIME_DIR="+dir)
	kr.Stdin = strings.NewReader("outage-test")
	if err := kr.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kr.Process.Kill(); _ = kr.Wait() })
	eventually(t, "recovery", func() error {
		h, err := c.Info(ctx)
		if err != nil || h.Keychain != "ok" {
			return fmt.Errorf("%+v %v", h, err)
		}
		_, err = c.Resolve(tokenDoor(ctx), credstore.Request{Profile: "default"})
		if !errors.Is(err, storeerr.ErrNotFound) {
			return fmt.Errorf("stored look-up after recovery: %v", err)
		}
		return nil
	})
	if _, err := c.Put(ctx, "default", keyStored, credstore.PutOptions{}); err != nil {
		t.Fatalf("put after recovery: %v", err)
	}
	if r, err := c.Resolve(tokenDoor(ctx), credstore.Request{Profile: "default"}); err != nil || r.Key != keyStored {
		t.Fatalf("resolve after recovery: %+v %v", r, err)
	}
	// Logged as the health record turns, which a health check may answer
	// first; and the daemon's stderr reaches the test through a pipe.
	eventually(t, "recovery logged", func() error {
		if !strings.Contains(p.Stderr.String(), "keychain available again") {
			return fmt.Errorf("not in: %s", p.Stderr.String())
		}
		return nil
	})
}

// TestHardening: the daemon process is not dumpable and has no core size.
func TestHardening(t *testing.T) {
	t.Parallel()
	w := proctest.NewWorld(t)
	p := w.Daemon(t, nil)
	limits, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", p.Cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(limits), "\n") {
		if strings.HasPrefix(line, "Max core file size") {
			if f := strings.Fields(line); f[4] != "0" || f[5] != "0" {
				t.Errorf("core limit: %q", line)
			}
		}
	}
	// A non-dumpable process's /proc files belong to root (the flag itself
	// is checked in-process by internal/harden's tests).
	st, err := os.Stat(fmt.Sprintf("/proc/%d/environ", p.Cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if uid := st.Sys().(*syscall.Stat_t).Uid; os.Getuid() != 0 && uid != 0 {
		t.Errorf("/proc/PID/environ owned by %d: the daemon is dumpable", uid)
	}
}
