package testkeyring

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// busConfig is a session bus with no service directories, so nothing is
// activated behind a test's back: a Secret Service exists only if the test
// starts one.
const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// PrivateBus starts a D-Bus session bus of the test's own and returns its
// address; it stops when the test ends.
func PrivateBus(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("dbus-daemon"); err != nil {
		Require(t)
		t.Skip("dbus-daemon not installed")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "bus")
	cfg := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(busConfig, sock)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("dbus-daemon", "--config-file="+cfg, "--nofork", "--nopidfile")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitFor(t, func() bool { _, err := os.Stat(sock); return err == nil })
	return "unix:path=" + sock
}

// StartKeyring runs gnome-keyring-daemon on bus with its keyrings in
// dataDir, unlocking (or creating) the login keyring with password. It has
// a control directory of its own (never the desktop's or the suite's, which
// it would hand over to instead of starting) and is ready once it owns
// org.freedesktop.secrets on bus. It returns a func that stops it.
func StartKeyring(t testing.TB, bus, dataDir, password string) (stop func()) {
	t.Helper()
	control, err := os.MkdirTemp(dataDir, "control.")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets", "--control-directory="+control)
	cmd.Env = append(withoutVar(os.Environ(), "GNOME_KEYRING_CONTROL"), "DBUS_SESSION_BUS_ADDRESS="+bus, "XDG_DATA_HOME="+dataDir)
	cmd.Stdin = strings.NewReader(password)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(10 * time.Second)
	for !ownsSecrets(bus) {
		select {
		case <-exited:
			t.Fatal("gnome-keyring-daemon exited before it owned org.freedesktop.secrets")
		default:
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatal("gnome-keyring-daemon did not take org.freedesktop.secrets within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The login keyring is written shortly after start-up.
	waitFor(t, func() bool { _, err := os.Stat(filepath.Join(dataDir, "keyrings", "login.keyring")); return err == nil })
	return stop
}

// ownsSecrets asks bus whether anyone owns org.freedesktop.secrets.
func ownsSecrets(bus string) bool {
	out, err := exec.Command("dbus-send", "--bus="+bus, "--print-reply", "--dest=org.freedesktop.DBus", "/",
		"org.freedesktop.DBus.NameHasOwner", "string:org.freedesktop.secrets").Output()
	return err == nil && strings.Contains(string(out), "boolean true")
}

func withoutVar(env []string, name string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

func waitFor(t testing.TB, ok func() bool) {
	t.Helper()
	for range 200 {
		if ok() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("timed out waiting")
}
