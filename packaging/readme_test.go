package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// userEnable is what the packages tell a user to run to start torale-cred
// now, not only at the next login: the service and its socket.
const userEnable = "systemctl --user enable --now torale-cred.socket torale-cred.service"

// installSection is the README's "## Install" section, up to the next "## ".
func installSection(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n## Install\n")
	if i < 0 {
		t.Fatal("README.md has no ## Install section")
	}
	s = s[i+1:]
	if j := strings.Index(s[3:], "\n## "); j >= 0 {
		s = s[:j+4]
	}
	return s
}

// The README's install section names only make targets, files and package
// names that exist, and tells the same command as the post-install script.
func TestReadmeInstallNamesWhatExists(t *testing.T) {
	sec := installSection(t)
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile("(?m)(?:^|`)make ([a-z]+)").FindAllStringSubmatch(sec, -1) {
		if !regexp.MustCompile("(?m)^" + m[1] + ":").Match(mk) {
			t.Errorf("README says `make %s`; the Makefile has no such target", m[1])
		}
	}
	for _, p := range regexp.MustCompile(`packaging/[\w./-]+\.\w+`).FindAllString(sec, -1) {
		if !fileExists(filepath.Join("..", p)) {
			t.Errorf("README names %s, which does not exist", p)
		}
	}
	post, err := os.ReadFile("scripts/deb/postinst")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sec, userEnable) || !strings.Contains(string(post), "run: "+userEnable) {
		t.Errorf("README and the .deb's postinst must both tell the user: %s", userEnable)
	}
	// nfpm's file names, as makePackage checks them, against the README's globs.
	for pattern, name := range map[string]string{
		"torale-cred_*_amd64.deb":      "torale-cred_9.8.7-1_amd64.deb",
		"torale-cred-*.x86_64.rpm":     "torale-cred-9.8.7-1.x86_64.rpm",
		"torale-cred_*_arm64.deb":      "torale-cred_9.8.7-1_arm64.deb",
		"torale-cred-*.aarch64.rpm":    "torale-cred-9.8.7-1.aarch64.rpm",
		"ai.torale.cred.plist":         LaunchdLabel + ".plist",
		"torale-cred.{service,socket}": ServiceUnit,
	} {
		if strings.HasPrefix(pattern, "torale-cred_") || strings.HasPrefix(pattern, "torale-cred-") {
			if ok, _ := filepath.Match(pattern, name); !ok {
				t.Errorf("%s does not match %s", pattern, name)
			}
			if strings.HasSuffix(pattern, "amd64.deb") || strings.HasSuffix(pattern, "x86_64.rpm") {
				if !strings.Contains(sec, pattern) {
					t.Errorf("README no longer shows %s", pattern)
				}
			}
			continue
		}
		if !strings.Contains(sec, pattern) {
			t.Errorf("README does not name %s (%s)", pattern, name)
		}
	}
}

// The README's `go install` line, run as written (into a temporary GOBIN),
// gives the working programs.
func TestReadmeGoInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds both programs: skipped with -short")
	}
	line := regexp.MustCompile(`(?m)^(CGO_ENABLED=0 go install [^#\n]+)`).FindStringSubmatch(installSection(t))
	if line == nil {
		t.Fatal("README's Install section has no `CGO_ENABLED=0 go install` line")
	}
	bin := t.TempDir()
	cmd := exec.Command("sh", "-c", line[1])
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "GOBIN="+bin, "PATH="+filepath.Dir(goTool(t))+string(os.PathListSeparator)+os.Getenv("PATH"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", line[1], err, out)
	}
	if out, err := exec.Command(filepath.Join(bin, "torale-cred"), "version").CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "torale-cred ") {
		t.Errorf("installed torale-cred version: %v %q", err, out)
	}
	for _, name := range []string{"git-credential-torale"} {
		if fi, err := os.Stat(filepath.Join(bin, name)); err != nil || fi.Mode()&0o111 == 0 {
			t.Errorf("%s not installed: %v", name, err)
		}
	}
}
