//go:build linux

package usersvc_test

import (
	"context"
	"encoding/json"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/torale-ai/torale-cred/internal/cli"
	"github.com/torale-ai/torale-cred/internal/usersvc"
	"github.com/torale-ai/torale-cred/packaging"
)

// serviceEnv gives the test its own HOME (with an empty ~/.config, as real
// homes have), XDG dirs and, when fake is true, testdata/systemctl-offline
// as `systemctl` first on PATH. It returns HOME and the systemctl log.
func serviceEnv(t *testing.T, fake bool) (home, log string) {
	t.Helper()
	real, err := exec.LookPath("systemctl")
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("TORALE_CRED_REQUIRE_KEYRING") == "1" {
			t.Fatal("systemctl is not installed; .ci/deps installs it")
		}
		t.Skip("systemctl is not installed")
	}
	tmp := t.TempDir()
	home = filepath.Join(tmp, "home")
	run := filepath.Join(tmp, "run")
	for _, d := range []string{filepath.Join(home, ".config"), run} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	log = filepath.Join(tmp, "systemctl.log")
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("XDG_RUNTIME_DIR", run)
	// Never the developer's real user bus.
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+filepath.Join(tmp, "no-bus"))
	t.Setenv("TORALE_CRED_SOCKET", "")
	t.Setenv("SYSTEMCTL_LOG", log)
	t.Setenv("REAL_SYSTEMCTL", real)
	t.Setenv("SYSTEMCTL_FAIL", "")
	if fake {
		bin := filepath.Join(tmp, "bin")
		if err := os.Mkdir(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		shim, err := filepath.Abs("testdata/systemctl-offline")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(shim, filepath.Join(bin, "systemctl")); err != nil {
			t.Fatal(err)
		}
		t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	return home, log
}

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	io, sout, serr := cli.Test("")
	code = cli.Run(context.Background(), args, io, os.Getenv)
	return code, sout.String(), serr.String()
}

// tree lists every path under root with its type and, for files and links,
// content: two equal trees hold exactly the same things.
func tree(t *testing.T, root string) []string {
	t.Helper()
	var got []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			dst, err := os.Readlink(p)
			if err != nil {
				return err
			}
			got = append(got, rel+" -> "+dst)
		case d.IsDir():
			got = append(got, rel+"/")
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			got = append(got, rel+": "+string(b))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	return got
}

func readLog(t *testing.T, log string) string {
	t.Helper()
	b, err := os.ReadFile(log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

func TestServiceInstallWritesPackagedUnitsAndUninstallRemovesThem(t *testing.T) {
	home, log := serviceEnv(t, true)
	before := tree(t, home)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(home, ".config", "systemd", "user")
	svcPath, sockPath := filepath.Join(dir, packaging.ServiceUnit), filepath.Join(dir, packaging.SocketUnit)

	code, _, stderr := runCLI(t, "service", "install")
	if code != 0 {
		t.Fatalf("install: exit %d, stderr:\n%s", code, stderr)
	}
	t.Logf("install said:\n%s", stderr)
	for _, want := range []string{"Wrote " + sockPath, "Wrote " + svcPath, "ExecStart=" + exe + " daemon", "Enabled torale-cred.socket"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("install's output lacks %q:\n%s", want, stderr)
		}
	}

	// The socket byte for byte as packaged; the service too, but for the
	// ExecStart path (this test binary instead of /usr/bin/torale-cred).
	sock, err := os.ReadFile(sockPath)
	if err != nil {
		t.Fatal(err)
	}
	if string(sock) != packaging.SystemdSocket() {
		t.Errorf("%s differs from packaging/systemd/%s:\n%s", sockPath, packaging.SocketUnit, sock)
	}
	svc, err := os.ReadFile(svcPath)
	if err != nil {
		t.Fatal(err)
	}
	back := strings.Replace(string(svc), "ExecStart="+exe+" daemon\n", "ExecStart=/usr/bin/torale-cred daemon\n", 1)
	if back != packaging.SystemdService() {
		t.Errorf("%s differs from packaging/systemd/%s beyond the ExecStart path:\n%s", svcPath, packaging.ServiceUnit, svc)
	}
	for _, link := range []string{"sockets.target.wants/" + packaging.SocketUnit, "default.target.wants/" + packaging.ServiceUnit} {
		if _, err := os.Readlink(filepath.Join(dir, link)); err != nil {
			t.Errorf("not enabled: %v", err)
		}
	}
	calls := readLog(t, log)
	if !strings.Contains(calls, "--user enable --now torale-cred.socket\n") {
		t.Errorf("install did not enable and start the socket; systemctl calls:\n%s", calls)
	}
	if strings.Contains(calls, "start torale-cred.service") || strings.Contains(calls, "enable --now torale-cred.service") {
		t.Errorf("install started the service itself; systemctl calls:\n%s", calls)
	}
	// What install wrote is what systemd accepts, with this ExecStart.
	verifyUnits(t, svcPath, sockPath)

	installed := tree(t, home)
	code, _, stderr = runCLI(t, "service", "install")
	if code != 0 || strings.Count(stderr, "Unchanged ") != 2 {
		t.Fatalf("second install: exit %d, want two files unchanged:\n%s", code, stderr)
	}
	if again := tree(t, home); strings.Join(again, "\n") != strings.Join(installed, "\n") {
		t.Errorf("second install changed files:\nbefore %q\nafter  %q", installed, again)
	}

	// A daemon answering on the socket that is none of the manager's units
	// (one started by hand) is flagged.
	fakeSock := filepath.Join(t.TempDir(), "cred.sock")
	l, err := net.Listen("unix", fakeSock)
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"status":"ok","version":"v0","keychain":"ok","watching":true,"pid":4242}`))
	})}
	go func() { _ = hs.Serve(l) }()
	defer hs.Close()
	t.Setenv("TORALE_CRED_SOCKET", fakeSock)
	code, stdout, stderr := runCLI(t, "service", "status", "--json")
	if code != 0 {
		t.Fatalf("status: exit %d:\n%s", code, stderr)
	}
	var st usersvc.State
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, stdout)
	}
	if len(st.Files) != 2 || len(st.Units) != 2 || st.Units[0].Enabled != "enabled" || st.Units[1].Enabled != "enabled" {
		t.Errorf("status after install: %+v", st)
	}
	if !st.Daemon.Answering || st.Daemon.PID != 4242 || !st.Daemon.OutsideManager {
		t.Errorf("a hand-started daemon on the socket not noticed: %+v", st.Daemon)
	}
	t.Setenv("TORALE_CRED_SOCKET", "")

	code, _, stderr = runCLI(t, "service", "uninstall")
	if code != 0 {
		t.Fatalf("uninstall: exit %d:\n%s", code, stderr)
	}
	t.Logf("uninstall said:\n%s", stderr)
	if after := tree(t, home); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("uninstall left something behind:\nbefore install %q\nafter uninstall %q", before, after)
	}
	code, _, stderr = runCLI(t, "service", "uninstall")
	if code != 0 || !strings.Contains(stderr, "Not installed") {
		t.Errorf("second uninstall: exit %d:\n%s", code, stderr)
	}
}

func TestServiceInstallReplacesAStaleUnit(t *testing.T) {
	home, log := serviceEnv(t, true)
	dir := filepath.Join(home, ".config", "systemd", "user")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	svcPath := filepath.Join(dir, packaging.ServiceUnit)
	if err := os.WriteFile(svcPath, []byte(packaging.SystemdService()), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "service", "install")
	if code != 0 || !strings.Contains(stderr, "Replaced "+svcPath) {
		t.Fatalf("install over a stale unit: exit %d:\n%s", code, stderr)
	}
	exe, _ := os.Executable()
	want, _ := packaging.RenderSystemdService(exe)
	if got, _ := os.ReadFile(svcPath); string(got) != want {
		t.Errorf("stale unit not replaced:\n%s", got)
	}
	if calls := readLog(t, log); !strings.Contains(calls, "--user try-restart torale-cred.service") {
		t.Errorf("a running daemon would keep the old unit; systemctl calls:\n%s", calls)
	}
}

func TestServiceInstallFailureLeavesNothing(t *testing.T) {
	home, _ := serviceEnv(t, true)
	before := tree(t, home)
	t.Setenv("SYSTEMCTL_FAIL", "--user enable --now torale-cred.socket")
	code, _, stderr := runCLI(t, "service", "install")
	if code != cli.ExitFailure || !strings.Contains(stderr, "injected by SYSTEMCTL_FAIL") {
		t.Fatalf("install with a failing systemctl: exit %d:\n%s", code, stderr)
	}
	// kardianos made ~/.config/systemd/user; the units and links are gone.
	after := tree(t, home)
	for _, p := range after {
		if strings.Contains(p, "torale-cred") {
			t.Errorf("half-installed: %s\nbefore %q\nafter %q", p, before, after)
		}
	}
}

func TestServiceWithoutAUserManager(t *testing.T) {
	home, _ := serviceEnv(t, false) // the real systemctl, no manager reachable
	before := tree(t, home)
	for _, action := range []string{"install", "start", "stop", "status"} {
		code, stdout, stderr := runCLI(t, "service", action)
		if code != cli.ExitFailure || stdout != "" {
			t.Errorf("service %s: exit %d, stdout %q", action, code, stdout)
		}
		if !strings.Contains(stderr, "no systemd user manager is reachable") || !strings.HasSuffix(stderr, "torale-cred daemon\n") ||
			strings.Count(stderr, "\n") != 1 {
			t.Errorf("service %s: want one sentence naming the way out, got:\n%s", action, stderr)
		}
	}
	if after := tree(t, home); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("wrote files without a manager:\nbefore %q\nafter %q", before, after)
	}
	if code, _, stderr := runCLI(t, "service", "uninstall"); code != 0 || !strings.Contains(stderr, "Not installed") {
		t.Errorf("uninstall with nothing installed: exit %d:\n%s", code, stderr)
	}

	t.Setenv("PATH", t.TempDir()) // no systemctl at all
	code, _, stderr := runCLI(t, "service", "install")
	if code != cli.ExitFailure || !strings.Contains(stderr, "systemctl is not installed") {
		t.Errorf("install without systemctl: exit %d:\n%s", code, stderr)
	}
}

func TestServiceNeedsASubcommand(t *testing.T) {
	if code, _, _ := runCLI(t, "service"); code != cli.ExitUsage {
		t.Errorf("service alone: exit %d, want %d", code, cli.ExitUsage)
	}
	if code, _, _ := runCLI(t, "service", "install", "extra"); code != cli.ExitUsage {
		t.Errorf("service install extra: exit %d, want %d", code, cli.ExitUsage)
	}
}

// verifyUnits runs systemd-analyze verify on unit files, which must print
// nothing: it exits 0 even on an unknown key or an invalid value. It needs
// no running manager, only an XDG_RUNTIME_DIR short enough for the socket
// paths of every user socket it loads (sun_path holds 108 bytes).
func verifyUnits(t *testing.T, units ...string) {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	run, err := os.MkdirTemp("", "rt")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(run)
	cmd := exec.Command("systemd-analyze", append([]string{"verify", "--user", "--man=no"}, units...)...)
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+run)
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("systemd-analyze verify --user %v: %v\n%s", units, err, out)
	}
}
