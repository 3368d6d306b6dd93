package packaging

import (
	"compress/gzip"
	"io"
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
	deb := filepath.Join(dist, "torale-cred_9.8.7-1_"+runtime.GOARCH+".deb")
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
		"-rw-r--r-- /usr/share/doc/torale-cred/README.md",
		"-rw-r--r-- /usr/share/doc/torale-cred/changelog.Debian.gz",
		"-rw-r--r-- /usr/share/doc/torale-cred/copyright",
		"-rw-r--r-- /usr/share/lintian/overrides/torale-cred",
		"-rw-r--r-- /usr/share/bash-completion/completions/torale-cred",
		"-rw-r--r-- /usr/share/fish/vendor_completions.d/torale-cred.fish",
		"-rw-r--r-- /usr/share/zsh/vendor-completions/_torale-cred",
		"-rwxr-xr-x /usr/bin/git-credential-torale",
		"-rwxr-xr-x /usr/bin/torale-cred",
	}
	root := t.TempDir()
	if out, err := exec.Command(dpkgDeb, "-x", deb, root).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, out)
	}
	pages := manPages(t, filepath.Join(root, "usr", "bin", "torale-cred"))
	for _, page := range pages {
		want = append(want, "-rw-r--r-- /usr/share/man/man1/"+page+".1.gz")
	}
	sort.Strings(want)
	if strings.Join(files, "\n") != strings.Join(want, "\n") {
		t.Errorf("dpkg-deb -c lists\n%s\nwant\n%s", strings.Join(files, "\n"), strings.Join(want, "\n"))
	}

	out, err = exec.Command(filepath.Join(root, "usr", "bin", "torale-cred"), "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "torale-cred "+testVersion+" (") {
		t.Errorf("packaged torale-cred version: %v, said %q; want the git version stamped", err, out)
	}
	// One program: the service commands are the packaged torale-cred's own.
	out, _ = exec.Command(filepath.Join(root, "usr", "bin", "torale-cred"), "service", "--help").CombinedOutput()
	if !strings.Contains(string(out), "torale-cred service [command]") {
		t.Errorf("packaged torale-cred service --help:\n%s", out)
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
	if string(info) != "Version: 9.8.7-1\nArchitecture: "+runtime.GOARCH+"\n" {
		t.Errorf("control fields:\n%s", info)
	}
	if rec, _ := exec.Command(dpkgDeb, "-f", deb, "Recommends").CombinedOutput(); !strings.Contains(string(rec), "gnome-keyring") {
		t.Errorf("Recommends: %q, want a Secret Service provider (gnome-keyring | ...)", rec)
	}
	// The changelog's newest entry names the package's own version.
	cl := readGzip(t, filepath.Join(root, "usr", "share", "doc", "torale-cred", "changelog.Debian.gz"))
	if !strings.HasPrefix(cl, "torale-cred (9.8.7-1) ") || !strings.Contains(cl, testVersion) {
		t.Errorf("changelog.Debian.gz starts %q; want torale-cred (9.8.7-1) naming %s", strings.SplitN(cl, "\n", 2)[0], testVersion)
	}
	// Every man page is gzipped roff with the version in its header.
	for _, page := range pages {
		roff := readGzip(t, filepath.Join(root, "usr", "share", "man", "man1", page+".1.gz"))
		if !strings.Contains(roff, "\n.TH ") || !strings.Contains(roff, testVersion) || strings.Contains(roff, "@VERSION@") || strings.Contains(roff, "@DATE@") {
			t.Errorf("%s.1.gz: no .TH header naming torale-cred %s, or a placeholder left", page, testVersion)
		}
	}
	if _, err := os.Stat(filepath.Join(control, "prerm")); err == nil {
		t.Error("the .deb has a prerm; its postrm undoes the enable")
	}
	debMaintainerScripts(t, filepath.Join(control, "postinst"), filepath.Join(control, "postrm"))
}

// manPages are the pages the packages ship: one per command of the real
// command tree, as exe's --help lists it (help excluded), and the git
// helper's.
func manPages(t *testing.T, exe string) []string {
	t.Helper()
	pages := []string{"git-credential-torale"}
	var walk func(args ...string)
	walk = func(args ...string) {
		pages = append(pages, strings.Join(append([]string{"torale-cred"}, args...), "-"))
		out, err := exec.Command(exe, append(args, "--help")...).Output()
		if err != nil {
			t.Fatalf("torale-cred %v --help: %v", args, err)
		}
		_, list, _ := strings.Cut(string(out), "\nAvailable Commands:\n")
		for _, l := range strings.Split(list, "\n") {
			if !strings.HasPrefix(l, "  ") {
				break
			}
			if name := strings.Fields(l)[0]; name != "help" {
				walk(append(append([]string{}, args...), name)...)
			}
		}
	}
	walk()
	sort.Strings(pages)
	return pages
}

func readGzip(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b, err := io.ReadAll(z)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return string(b)
}

// fakeTool puts a program named name on a PATH of its own that records its
// arguments (and DPKG_MAINTSCRIPT_PACKAGE) a line per call, exiting with
// the code the test sets in the file name+".rc" (0 when absent).
func fakeTool(t *testing.T, name string) (dir, log string) {
	t.Helper()
	dir = t.TempDir()
	log = filepath.Join(dir, "calls")
	fake := "#!/bin/sh\nprintf '%s\\n' \"$*\" >>" + log + "\nrc=$(cat " + filepath.Join(dir, name+".rc") + " 2>/dev/null || echo 0)\nexit $rc\n"
	if err := os.WriteFile(filepath.Join(dir, name), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, log
}

// runScript runs a maintainer script with the fakes in dir first on PATH
// and returns what it printed and the calls the fakes recorded.
func runScript(t *testing.T, dir, log, script string, args ...string) (stdout, calls string) {
	t.Helper()
	os.Remove(log)
	cmd := exec.Command(script, args...)
	cmd.Env = append(os.Environ(), "PATH="+dir+":/usr/bin:/bin", "DPKG_MAINTSCRIPT_PACKAGE=torale-cred")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v", filepath.Base(script), args, err)
	}
	b, _ := os.ReadFile(log)
	return string(out), string(b)
}

// debMaintainerScripts runs the packaged postinst and postrm with a
// deb-systemd-helper that records its arguments: the service and the socket
// are enabled for every user's future logins the way dh_installsystemduser does it (enable
// while the package's links are all there, which a first install counts as;
// else only update its record, so an admin's disable survives), removed
// with its record on removal, never systemctl, never a user manager.
func debMaintainerScripts(t *testing.T, postinst, postrm string) {
	t.Helper()
	for _, s := range []string{postinst, postrm} {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(activeShell(string(b)), "systemctl ") {
			t.Errorf("%s calls systemctl; lintian wants deb-systemd-helper", filepath.Base(s))
		}
	}
	dir, log := fakeTool(t, "deb-systemd-helper")
	const enable = "run: " + userEnable
	// Both units: the service starts at login (its watcher moves a
	// plaintext key even for a user who never asks the socket), the socket
	// answers look-ups.
	const (
		enabled = "--quiet --user was-enabled torale-cred.socket\n--user enable torale-cred.socket\n" +
			"--quiet --user was-enabled torale-cred.service\n--user enable torale-cred.service\n"
		kept = "--quiet --user was-enabled torale-cred.socket\n--user update-state torale-cred.socket\n" +
			"--quiet --user was-enabled torale-cred.service\n--user update-state torale-cred.service\n"
		purged = "--user purge torale-cred.socket torale-cred.service\n"
	)
	for _, c := range []struct {
		script, wasEnabledRC, calls, says string
		args                              []string
	}{
		{postinst, "0", enabled, enable, []string{"configure", ""}},
		{postinst, "0", enabled, enable, []string{"configure", "1.0.0-1"}},
		// An admin disabled them: the upgrade keeps them disabled.
		{postinst, "1", kept, enable, []string{"configure", "1.0.0-1"}},
		{postrm, "0", purged, "systemctl --user disable --now", []string{"remove"}},
		{postrm, "0", purged, "", []string{"purge"}},
		{postrm, "0", "", "", []string{"upgrade", "9.9.9-1"}},
	} {
		if err := os.WriteFile(filepath.Join(dir, "deb-systemd-helper.rc"), []byte(c.wasEnabledRC), 0o644); err != nil {
			t.Fatal(err)
		}
		out, calls := runScript(t, dir, log, c.script, c.args...)
		if calls != c.calls || !strings.Contains(out, c.says) || (c.says == "" && out != "") {
			t.Errorf("%s %q (was-enabled exit %s): deb-systemd-helper calls %q (want %q), said %q (want %q)",
				filepath.Base(c.script), c.args, c.wasEnabledRC, calls, c.calls, out, c.says)
		}
	}
}

// activeShell is a shell script without its comment lines and the lines
// that only print a message.
func activeShell(script string) string {
	var b strings.Builder
	for _, l := range strings.Split(script, "\n") {
		if l = strings.TrimSpace(l); !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "echo ") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// The .rpm's %post and %preun with a systemctl that records its arguments:
// they enable and disable the service and the socket globally on a first
// install and a real removal only, never touch a user manager, and tell the user the one
// command to run.
func TestRpmMaintainerScripts(t *testing.T) {
	dir, log := fakeTool(t, "systemctl")
	post, preun := filepath.Join("scripts", "rpm", "post.sh"), filepath.Join("scripts", "rpm", "preun.sh")
	for _, c := range []struct {
		script, calls, says string
		args                []string
	}{
		{post, "--global enable torale-cred.socket torale-cred.service\n", "run: " + userEnable, []string{"1"}},
		// An upgrade enables nothing: an admin's --global disable stays.
		{post, "", "run: " + userEnable, []string{"2"}},
		{preun, "--global disable torale-cred.socket torale-cred.service\n", "systemctl --user disable --now", []string{"0"}},
		{preun, "", "", []string{"1"}},
	} {
		out, calls := runScript(t, dir, log, c.script, c.args...)
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
	} else if !strings.Contains(string(out), "run: "+userEnable) {
		t.Errorf("dpkg -i did not tell the user what to run:\n%s", out)
	}
	installed := true
	defer func() {
		if installed {
			_ = exec.Command(dpkg, "-r", "torale-cred").Run()
		}
	}()
	link := "/etc/systemd/user/sockets.target.wants/torale-cred.socket"
	svcLink := "/etc/systemd/user/default.target.wants/torale-cred.service"
	for l, want := range map[string]string{link: "/usr/lib/systemd/user/torale-cred.socket", svcLink: "/usr/lib/systemd/user/torale-cred.service"} {
		if dst, err := os.Readlink(l); err != nil || dst != want {
			t.Errorf("after dpkg -i: %s -> %q (%v)", l, dst, err)
		}
	}
	if out, err := exec.Command("/usr/bin/torale-cred", "version").CombinedOutput(); err != nil || !strings.Contains(string(out), testVersion) {
		t.Errorf("/usr/bin/torale-cred version: %v %q", err, out)
	}
	if out, err := exec.Command(dpkg, "-r", "torale-cred").CombinedOutput(); err != nil {
		t.Fatalf("dpkg -r: %v\n%s", err, out)
	}
	installed = false
	for _, p := range []string{link, svcLink, "/usr/bin/torale-cred", "/usr/bin/git-credential-torale", "/usr/lib/torale-cred", "/usr/lib/systemd/user/torale-cred.service",
		"/usr/lib/systemd/user/torale-cred.socket", "/usr/share/doc/torale-cred"} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("dpkg -r left %s (%v)", p, err)
		}
	}
}
