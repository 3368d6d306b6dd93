package packaging

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/torale-ai/torale-cred/internal/proctest"
)

// need returns the path of a tool the test drives, skipping locally and
// failing in CI when it is missing (.ci/deps installs them).
func need(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("TORALE_CRED_REQUIRE_KEYRING") == "1" {
			t.Fatalf("%s is not installed; .ci/deps installs it", tool)
		}
		t.Skipf("%s is not installed", tool)
	}
	return p
}

// goTool is the go command; `go test` puts its own first on PATH.
func goTool(t *testing.T) string {
	t.Helper()
	return need(t, "go")
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// shipped holds the shipped programs (proctest.Programs), found or built
// once by TestMain.
var shipped string

func TestMain(m *testing.M) {
	os.Exit(proctest.WithPrograms(func(dir string) int { shipped = dir; return m.Run() }))
}

// shippedToraleCred copies the real torale-cred (static, as shipped) into
// dir: the tests want it at paths of their own.
func shippedToraleCred(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(shipped, "torale-cred"))
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "torale-cred")
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return exe
}

// verify runs `systemd-analyze verify --user` on units in dir and wants no
// output at all: it exits 0 even on an unknown key or an invalid value. It
// works offline (no systemd --user, no PID 1 systemd) given a runtime
// directory short enough for the sockets it loads (sun_path is 108 bytes)
// and a HOME of its own, so the developer's units stay out of it.
func verify(t *testing.T, units ...string) {
	t.Helper()
	analyze := need(t, "systemd-analyze")
	run, err := os.MkdirTemp("", "rt")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(run)
	cmd := exec.Command(analyze, append([]string{"verify", "--user", "--man=no"}, units...)...)
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+run, "HOME="+t.TempDir(), "XDG_CONFIG_HOME=", "SYSTEMD_LOG_LEVEL=info")
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("systemd-analyze verify --user --man=no %s: %v\n%s", strings.Join(units, " "), err, out)
	}
}

func writeUnits(t *testing.T, dir, service string) (string, string) {
	t.Helper()
	svc, sock := filepath.Join(dir, ServiceUnit), filepath.Join(dir, SocketUnit)
	if err := os.WriteFile(svc, []byte(service), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sock, []byte(SystemdSocket()), 0o644); err != nil {
		t.Fatal(err)
	}
	return svc, sock
}

func TestUnitsVerifyWithTheBuiltBinary(t *testing.T) {
	dir := t.TempDir()
	exe := shippedToraleCred(t, dir)
	unit, err := RenderSystemdService(exe)
	if err != nil {
		t.Fatal(err)
	}
	svc, sock := writeUnits(t, dir, unit)
	verify(t, svc, sock)
}

// A path with spaces, a %-specifier, a $VARIABLE, globs and a semicolon must
// survive systemd's parsing: verify checks the file is executable.
func TestRenderSystemdServiceEscapesTheExecutable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "odd  dir %h $HOME ${X} *?;")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	exe := shippedToraleCred(t, dir)
	unit, err := RenderSystemdService(exe)
	if err != nil {
		t.Fatal(err)
	}
	units := t.TempDir()
	svc, sock := writeUnits(t, units, unit)
	verify(t, svc, sock)

	// The sabotage check: the same path unescaped is refused.
	bad := strings.Replace(SystemdService(), PackagedExecutable, exe, 1)
	svc, _ = writeUnits(t, units, bad)
	out, _ := exec.Command("systemd-analyze", "verify", "--user", "--man=no", svc).CombinedOutput()
	if len(out) == 0 {
		t.Error("an unescaped odd path passed systemd-analyze verify: the escape test proves nothing")
	}
}

func TestRenderSystemdService(t *testing.T) {
	got, err := RenderSystemdService(PackagedExecutable)
	if err != nil || got != SystemdService() {
		t.Errorf("rendering for %s is not the shipped unit byte for byte (err %v)", PackagedExecutable, err)
	}
	got, err = RenderSystemdService("/home/ann/go/bin/torale-cred")
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(SystemdService(), "ExecStart=/usr/bin/torale-cred daemon\n", "ExecStart=/home/ann/go/bin/torale-cred daemon\n", 1); got != want {
		t.Errorf("more than the ExecStart line changed:\n%s", got)
	}
	// systemd refuses quotes and backslashes in a program name ("special characters").
	for _, bad := range []string{"torale-cred", "bin/torale-cred", "/a\nExecStartPre=/bin/rm", "/a\x00", `/a "b"/x`, "/a'b/x", `/a\b/x`} {
		if _, err := RenderSystemdService(bad); err == nil {
			t.Errorf("RenderSystemdService(%q) accepted", bad)
		}
	}
}

// activeLines are a unit's settings, comments dropped.
func activeLines(unit string) []string {
	var out []string
	for _, l := range strings.Split(unit, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, ";") {
			out = append(out, l)
		}
	}
	return out
}

func TestUnitsSayWhatTheIssueAsks(t *testing.T) {
	has := func(unit, name string, want ...string) {
		t.Helper()
		lines := "\n" + strings.Join(activeLines(unit), "\n") + "\n"
		for _, w := range want {
			if !strings.Contains(lines, "\n"+w+"\n") {
				t.Errorf("%s lacks %q", name, w)
			}
		}
	}
	has(SystemdSocket(), SocketUnit, "[Socket]", "ListenStream=%t/torale/cred.sock", "SocketMode=0600", "DirectoryMode=0700", "WantedBy=sockets.target")
	has(SystemdService(), ServiceUnit, "[Service]", "Type=notify", "ExecStart=/usr/bin/torale-cred daemon", "Restart=on-failure",
		"NoNewPrivileges=yes", "LockPersonality=yes", "RestrictRealtime=yes", "SystemCallArchitectures=native", "WantedBy=default.target")
	if !regexp.MustCompile(`(?m)^WatchdogSec=[1-9][0-9]*s$`).MatchString(SystemdService()) {
		t.Errorf("%s has no WatchdogSec=", ServiceUnit)
	}
	// RuntimeDirectory= would delete the socket's directory, socket and all,
	// when the service stops; namespace options need PrivateUsers= in a user
	// unit and fail where user namespaces are off: comments only.
	forbidden := regexp.MustCompile(`^(RuntimeDirectory|PrivateTmp|PrivateUsers|PrivateDevices|PrivateNetwork|ProtectSystem|ProtectHome|ProtectKernel\w*|ProtectControlGroups|ProtectClock|ProtectHostname|ReadWritePaths|ReadOnlyPaths|InaccessiblePaths|CapabilityBoundingSet|Restart)=`)
	for _, u := range []string{SystemdService(), SystemdSocket()} {
		for _, l := range activeLines(u) {
			if forbidden.MatchString(l) && l != "Restart=on-failure" {
				t.Errorf("unit sets %q, which breaks or is unsafe in a user unit", l)
			}
		}
	}
}

// The packaged tree: what the .deb installs, enabled for every user offline
// as the post-install script does, and disabled again.
func TestGlobalEnableOffline(t *testing.T) {
	root := t.TempDir()
	lib := filepath.Join(root, "usr", "lib", "systemd", "user")
	if err := os.MkdirAll(lib, 0o755); err != nil {
		t.Fatal(err)
	}
	writeUnits(t, lib, SystemdService())
	globalEnable(t, root)
}

// globalEnable runs systemctl --root=root --global enable/disable on the
// socket and the service, as the package scripts do, and checks the links
// it makes and removes: the socket for look-ups, the service at login.
func globalEnable(t *testing.T, root string) {
	t.Helper()
	systemctl := need(t, "systemctl")
	links := map[string]string{
		filepath.Join(root, "etc", "systemd", "user", "sockets.target.wants", SocketUnit):  "/usr/lib/systemd/user/" + SocketUnit,
		filepath.Join(root, "etc", "systemd", "user", "default.target.wants", ServiceUnit): "/usr/lib/systemd/user/" + ServiceUnit,
	}
	if out, err := exec.Command(systemctl, "--root="+root, "--global", "enable", SocketUnit, ServiceUnit).CombinedOutput(); err != nil {
		t.Fatalf("systemctl --root --global enable: %v\n%s", err, out)
	}
	for link, want := range links {
		if dst, err := os.Readlink(link); err != nil || dst != want {
			t.Errorf("enable made %s -> %q (%v)", link, dst, err)
		}
	}
	if out, err := exec.Command(systemctl, "--root="+root, "--global", "disable", SocketUnit, ServiceUnit).CombinedOutput(); err != nil {
		t.Fatalf("systemctl --root --global disable: %v\n%s", err, out)
	}
	for link := range links {
		if _, err := os.Lstat(link); !os.IsNotExist(err) {
			t.Errorf("disable left %s (%v)", link, err)
		}
	}
}

// plist reads a property list with Python's plistlib (plutil -lint's job on macOS).
func plist(t *testing.T, data string) map[string]any {
	t.Helper()
	py := need(t, "python3")
	cmd := exec.Command(py, "-c", `import json, plistlib, sys; json.dump(plistlib.loads(sys.stdin.buffer.read()), sys.stdout)`)
	cmd.Stdin = strings.NewReader(data)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("plistlib: %v\n%s", err, stderr.String())
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLaunchdPlist(t *testing.T) {
	check := func(m map[string]any, exe, log string) {
		t.Helper()
		args, _ := json.Marshal(m["ProgramArguments"])
		wantArgs, _ := json.Marshal([]string{exe, "daemon"})
		if m["Label"] != LaunchdLabel || string(args) != string(wantArgs) {
			t.Errorf("Label %v, ProgramArguments %s; want %s, %s", m["Label"], args, LaunchdLabel, wantArgs)
		}
		if m["RunAtLoad"] != true || m["KeepAlive"] == nil {
			t.Errorf("RunAtLoad %v, KeepAlive %v", m["RunAtLoad"], m["KeepAlive"])
		}
		if m["StandardOutPath"] != log || m["StandardErrorPath"] != log {
			t.Errorf("logs to %v and %v, want %s", m["StandardOutPath"], m["StandardErrorPath"], log)
		}
	}
	check(plist(t, LaunchdPlist()), "@EXECUTABLE@", "@HOME@/Library/Logs/torale-cred.log")

	exe, home := "/Users/a&b <x>/bin/torale-cred", `/Users/o'brien "q"`
	rendered, err := RenderLaunchdPlist(exe, home+"/")
	if err != nil {
		t.Fatal(err)
	}
	check(plist(t, rendered), exe, home+"/Library/Logs/torale-cred.log")
	if strings.Contains(rendered, "@") {
		t.Errorf("a placeholder is left:\n%s", rendered)
	}
	for _, bad := range [][2]string{{"torale-cred", "/Users/a"}, {"/usr/local/bin/torale-cred", "~"}, {"/a\x01", "/Users/a"}} {
		if _, err := RenderLaunchdPlist(bad[0], bad[1]); err == nil {
			t.Errorf("RenderLaunchdPlist(%q, %q) accepted", bad[0], bad[1])
		}
	}
}
