// Package progs knows where torale-cred's programs live relative to one
// another, by one rule for every program that looks for another: the lean
// front finding the full CLI, the CLI finding torale-cred-service, the
// service finding the torale-cred its unit runs, the daemon telling its
// own programs from others. It only stats files; it runs nothing.
package progs

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// The programs, by their installed names.
const (
	Front   = "torale-cred"           // what users type: the lean front (cmd/torale-cred)
	CLI     = "torale-cred-cli"       // every command (cmd/torale-cred-cli), which the fronts exec
	Git     = "git-credential-torale" // git's helper (a lean front too)
	Service = "torale-cred-service"   // the service commands (cmd/torale-cred-service)
)

// All are every program's name.
var All = []string{Front, CLI, Git, Service}

// What a lean front tells the full CLI it execs, in its environment; the
// CLI takes both out of its environment at once, so that no child of
// `exec` inherits them.
const (
	// FrontEnv is the front's own path: the torale-cred the user ran
	// (the one a service unit runs).
	FrontEnv = "TORALE_CRED_FRONT"
	// DaemonStuckEnv=1: the front's own look-up found the daemon stuck (no
	// answer within the client timeout); the CLI reads the keychain
	// directly, with its one warning, rather than wait a second time.
	DaemonStuckEnv = "TORALE_CRED_DAEMON_STUCK"
	// DaemonAnswerFDEnv names a descriptor holding the daemon's answer to
	// the front's own look-up ("STATUS\n" then the body): an answer with
	// more to say than the key (an error, a warning, a due rotation). The
	// CLI takes it as the answer to its own identical look-up instead of
	// asking again, so a key is handed out, audited and (under a confirm
	// policy) asked for once.
	DaemonAnswerFDEnv = "TORALE_CRED_DAEMON_ANSWER_FD"
)

// exeName is name as this OS spells an executable.
func exeName(name string) string {
	if runtime.GOOS == "windows" {
		return name + ".exe"
	}
	return name
}

// Dirs are the directories torale-cred's programs may be in, given one of
// them at self: beside it (bin/, go install), and across the layouts the
// packages use: bin/ with lib/torale-cred/ (the .deb and .rpm), libexec/
// or libexec/torale-cred/ (Homebrew), from either side.
func Dirs(self string) []string {
	d := filepath.Dir(self)
	var out []string
	seen := map[string]bool{}
	for _, p := range []string{d,
		filepath.Join(d, "..", "lib", "torale-cred"),
		filepath.Join(d, "..", "libexec", "torale-cred"),
		filepath.Join(d, "..", "libexec"),
		filepath.Join(d, "..", "..", "bin"),
		filepath.Join(d, "..", "bin"),
	} {
		if p = filepath.Clean(p); !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// selves is this process's executable and, when it is a link, its target.
func selves() []string {
	self, err := os.Executable()
	if err != nil {
		return nil
	}
	out := []string{self}
	if real, err := filepath.EvalSymlinks(self); err == nil && real != self {
		out = append(out, real)
	}
	return out
}

// Find is the program name where Dirs puts it relative to this process
// (its path as run, then the file it links to), else on PATH. The error
// names every place looked.
func Find(name string) (string, error) {
	name = exeName(name)
	var looked []string
	for _, self := range selves() {
		for _, d := range Dirs(self) {
			p := filepath.Join(d, name)
			looked = append(looked, p)
			if isProgram(p) {
				return p, nil
			}
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", &NotFoundError{Name: name, Looked: looked}
}

// NotFoundError is Find's failure: the program and every place looked.
type NotFoundError struct {
	Name   string
	Looked []string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%s is not installed with this torale-cred (looked in %v and on PATH)", e.Name, e.Looked)
}

// Family is every path one of torale-cred's programs may have, given one
// of them at exe.
func Family(exe string) []string {
	var out []string
	for _, d := range Dirs(exe) {
		for _, n := range All {
			out = append(out, filepath.Join(d, exeName(n)))
		}
	}
	return out
}

func isProgram(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && (runtime.GOOS == "windows" || fi.Mode()&0o111 != 0)
}

// Canonical is how torale-cred's programs are named to people and to
// policies: the full CLI (exe is a torale-cred-cli) is the lean front it
// was run as, by its argv[0] (git-credential-torale, else torale-cred),
// found beside it, so that `policy allow /usr/bin/torale-cred` holds
// whichever half answered. Any other exe is itself.
func Canonical(exe, argv0 string) string {
	if filepath.Base(exe) != exeName(CLI) {
		return exe
	}
	name := Front
	if strings.TrimSuffix(filepath.Base(argv0), ".exe") == Git {
		name = Git
	}
	for _, d := range Dirs(exe) {
		if p := filepath.Join(d, exeName(name)); isProgram(p) {
			return p
		}
	}
	return exe
}
