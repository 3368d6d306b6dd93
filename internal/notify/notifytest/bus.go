//go:build linux

package notifytest

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// PrivateBus starts a dbus-daemon with the session configuration for this
// test alone and points DBUS_SESSION_BUS_ADDRESS at it (t.Setenv, so the
// test must not be parallel). Tests in other packages, running at the same
// time on the shared test bus, can then never take the notification name
// from under this one. Without dbus-daemon the test is skipped, or failed
// when CI or the test keyring says the tools must be there.
func PrivateBus(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("dbus-daemon")
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("TORALE_CRED_TEST_KEYRING") == "1" {
			t.Fatal("dbus-daemon not found: install dbus (make deps)")
		}
		t.Skip("dbus-daemon not found")
	}
	dir, err := os.MkdirTemp("", "notifytest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "bus")
	cmd := exec.Command(bin, "--session", "--nofork", "--nopidfile", "--print-address=1", "--address=unix:path="+sock)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = nil // its fd-limit warnings are noise
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting dbus-daemon: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case addr, ok := <-lines:
		if !ok || !strings.HasPrefix(addr, "unix:") {
			t.Fatalf("dbus-daemon printed no address (%q)", addr)
		}
		t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
		return addr
	case <-time.After(10 * time.Second):
		t.Fatal("dbus-daemon did not start within 10s")
	}
	return ""
}
