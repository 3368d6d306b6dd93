package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

const testVersion = "v9.8.7"

// makePackage runs `make package` for this machine's architecture into a
// temporary dist directory, as a release would, and returns the .deb.
func makePackage(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the packages (nfpm via go run): skipped with -short")
	}
	if runtime.GOOS != "linux" || (runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64") {
		t.Skipf("packages are built for linux/amd64 and linux/arm64, not %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	mk := need(t, "make")
	dist := t.TempDir()
	cmd := exec.Command(mk, "package", "PACKAGE_ARCHS="+runtime.GOARCH, "DIST="+dist, "VERSION="+testVersion, "GO="+goTool(t))
	cmd.Dir = ".."
	// A make running `go test` must not hand its jobserver to this one.
	cmd.Env = append(os.Environ(), "MAKEFLAGS=", "MFLAGS=", "MAKELEVEL=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make package: %v\n%s", err, out)
	}
	deb := filepath.Join(dist, "torale-cred_9.8.7_"+runtime.GOARCH+".deb")
	if !fileExists(deb) {
		entries, _ := os.ReadDir(dist)
		t.Fatalf("no %s; dist holds %v", filepath.Base(deb), entries)
	}
	rpms, _ := filepath.Glob(filepath.Join(dist, "torale-cred-9.8.7-1.*.rpm"))
	if len(rpms) != 1 {
		t.Errorf("want one .rpm, got %v", rpms)
	}
	return deb
}

func TestDebPackage(t *testing.T) {
	dpkgDeb := need(t, "dpkg-deb")
	deb := makePackage(t)

	out, err := exec.Command(dpkgDeb, "-c", deb).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb -c: %v\n%s", err, out)
	}
	var files []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		if p := f[len(f)-1]; !strings.HasSuffix(p, "/") {
			files = append(files, f[0]+" "+strings.TrimPrefix(p, "."))
		}
	}
	sort.Strings(files)
	want := []string{
		"-rw-r--r-- /usr/lib/systemd/user/torale-cred.service",
		"-rw-r--r-- /usr/lib/systemd/user/torale-cred.socket",
		"-rw-r--r-- /usr/share/doc/torale-cred/LICENSE",
		"-rw-r--r-- /usr/share/doc/torale-cred/README.md",
		"-rw-r--r-- /usr/share/doc/torale-cred/copyright",
		"-rwxr-xr-x /usr/bin/git-credential-torale",
		"-rwxr-xr-x /usr/bin/torale-cred",
		"-rwxr-xr-x /usr/lib/torale-cred/torale-cred-service",
	}
	sort.Strings(want)
	if strings.Join(files, "\n") != strings.Join(want, "\n") {
		t.Errorf("dpkg-deb -c lists\n%s\nwant\n%s", strings.Join(files, "\n"), strings.Join(want, "\n"))
	}

	root := t.TempDir()
	if out, err := exec.Command(dpkgDeb, "-x", deb, root).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, out)
	}
	out, err = exec.Command(filepath.Join(root, "usr", "bin", "torale-cred"), "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "torale-cred "+testVersion+" (") {
		t.Errorf("packaged torale-cred version: %v, said %q; want the git version stamped", err, out)
	}
	// The packaged torale-cred finds the packaged torale-cred-service (it
	// answers for the service, whether or not a user manager is reachable).
	out, _ = exec.Command(filepath.Join(root, "usr", "bin", "torale-cred"), "service", "--help").CombinedOutput()
	if !strings.Contains(string(out), "torale-cred service [command]") {
		t.Errorf("packaged torale-cred service --help did not reach torale-cred-service:\n%s", out)
	}
	for name, want := range map[string]string{"torale-cred.service": SystemdService(), "torale-cred.socket": SystemdSocket()} {
		got, err := os.ReadFile(filepath.Join(root, "usr", "lib", "systemd", "user", name))
		if err != nil || string(got) != want {
			t.Errorf("packaged %s differs from packaging/systemd (%v)", name, err)
		}
	}
	// What the post-install script does, on the packaged tree, offline.
	globalEnable(t, root)

	control := t.TempDir()
	if out, err := exec.Command(dpkgDeb, "-e", deb, control).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -e: %v\n%s", err, out)
	}
	info, _ := exec.Command(dpkgDeb, "-f", deb, "Version", "Architecture").CombinedOutput()
	if string(info) != "Version: 9.8.7\nArchitecture: "+runtime.GOARCH+"\n" {
		t.Errorf("control fields:\n%s", info)
	}
	maintainerScripts(t, filepath.Join(control, "postinst"), filepath.Join(control, "prerm"))
}

// maintainerScripts runs the packaged postinst and prerm with a systemctl
// that records its arguments: they enable and disable the socket globally on
// a first install and a real removal only, never touch a user manager, and
// tell the user the one command to run.
func maintainerScripts(t *testing.T, postinst, prerm string) {
	t.Helper()
	bin := t.TempDir()
	log := filepath.Join(bin, "calls")
	fake := "#!/bin/sh\nprintf '%s\\n' \"$*\" >>" + log + "\n"
	if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(script string, args ...string) (stdout, calls string) {
		t.Helper()
		os.Remove(log)
		cmd := exec.Command(script, args...)
		cmd.Env = append(os.Environ(), "PATH="+bin+":/usr/bin:/bin")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s %v: %v", filepath.Base(script), args, err)
		}
		b, _ := os.ReadFile(log)
		return string(out), string(b)
	}
	for _, c := range []struct {
		script, calls, says string
		args                []string
	}{
		{postinst, "--global enable torale-cred.socket\n", "run: systemctl --user enable --now torale-cred.socket", []string{"configure", ""}},
		{postinst, "", "run: systemctl --user enable --now torale-cred.socket", []string{"configure", "1.0.0"}},
		{prerm, "--global disable torale-cred.socket\n", "systemctl --user disable --now", []string{"remove"}},
		{prerm, "", "", []string{"upgrade", "9.9.9"}},
	} {
		out, calls := run(c.script, c.args...)
		if calls != c.calls || !strings.Contains(out, c.says) {
			t.Errorf("%s %q: systemctl calls %q (want %q), said %q (want %q)", filepath.Base(c.script), c.args, calls, c.calls, out, c.says)
		}
	}
}

// TestDpkgInstallRemove installs the .deb into this machine's /usr and
// removes it again: only with TORALE_CRED_DPKG_TEST=1 (CI containers, as
// root), never on a developer's machine by accident.
func TestDpkgInstallRemove(t *testing.T) {
	if os.Getenv("TORALE_CRED_DPKG_TEST") != "1" {
		t.Skip("installs into /usr: set TORALE_CRED_DPKG_TEST=1 (CI, as root) to run it")
	}
	dpkg := need(t, "dpkg")
	if os.Geteuid() != 0 {
		t.Fatal("TORALE_CRED_DPKG_TEST=1 needs root")
	}
	if exec.Command(dpkg, "-s", "torale-cred").Run() == nil {
		t.Fatal("a torale-cred package is already installed here; not replacing it")
	}
	deb := makePackage(t)
	if out, err := exec.Command(dpkg, "-i", deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg -i: %v\n%s", err, out)
	} else if !strings.Contains(string(out), "run: systemctl --user enable --now torale-cred.socket") {
		t.Errorf("dpkg -i did not tell the user what to run:\n%s", out)
	}
	installed := true
	defer func() {
		if installed {
			_ = exec.Command(dpkg, "-r", "torale-cred").Run()
		}
	}()
	link := "/etc/systemd/user/sockets.target.wants/torale-cred.socket"
	if dst, err := os.Readlink(link); err != nil || dst != "/usr/lib/systemd/user/torale-cred.socket" {
		t.Errorf("after dpkg -i: %s -> %q (%v)", link, dst, err)
	}
	if out, err := exec.Command("/usr/bin/torale-cred", "version").CombinedOutput(); err != nil || !strings.Contains(string(out), testVersion) {
		t.Errorf("/usr/bin/torale-cred version: %v %q", err, out)
	}
	if out, err := exec.Command(dpkg, "-r", "torale-cred").CombinedOutput(); err != nil {
		t.Fatalf("dpkg -r: %v\n%s", err, out)
	}
	installed = false
	for _, p := range []string{link, "/usr/bin/torale-cred", "/usr/bin/git-credential-torale", "/usr/lib/torale-cred", "/usr/lib/systemd/user/torale-cred.service",
		"/usr/lib/systemd/user/torale-cred.socket", "/usr/share/doc/torale-cred"} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("dpkg -r left %s (%v)", p, err)
		}
	}
}
