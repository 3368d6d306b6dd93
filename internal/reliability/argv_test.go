//go:build linux

package reliability

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/torale-ai/torale-cred/internal/testkeyring"
)

// TestDocumentedExamplesKeepTheKeyOutOfArgv is reliability finding 6:
// every example that torale-cred's help (root, token, exec) and the README
// show of sending the key with curl is run as printed, under strace (every execve of the shell
// and its children), with a curl that records what it reads on stdin. The
// key must reach curl, and must be in no process's argv, which every user
// can read in /proc/*/cmdline. The old README form is the control: its
// leak must be caught.
func TestDocumentedExamplesKeepTheKeyOutOfArgv(t *testing.T) {
	parallel(t)
	testkeyring.Require(t)
	needStrace(t)
	w := newWorld(t)
	key := newKey(t)
	w.use(key)
	if _, errOut, code := w.CLI(t, key+"\n", nil, "login"); code != 0 {
		t.Fatalf("login: exit %d: %s", code, errOut)
	}

	// Outside the world's directories: the trace and curl's stdin hold
	// the key by design.
	out := t.TempDir()
	bin := filepath.Join(out, "bin")
	if err := os.Mkdir(bin, 0o700); err != nil {
		t.Fatal(err)
	}
	curl := fmt.Sprintf("#!/bin/sh\ncat >%q\n", filepath.Join(out, "curl.stdin"))
	writeProgram(t, filepath.Join(bin, "curl"), []byte(curl), 0o700)

	var examples []string
	for _, args := range [][]string{{"--help"}, {"token", "--help"}, {"exec", "--help"}} {
		help, errOut, code := w.CLI(t, "", nil, args...)
		if code != 0 {
			t.Fatalf("torale-cred %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		_, ex, _ := strings.Cut(help, "Examples:\n")
		for _, line := range strings.Split(ex, "\n") {
			if strings.HasPrefix(line, "  ") && strings.Contains(line, "curl") && strings.Contains(line, "Authorization") {
				examples = append(examples, strings.TrimSpace(line))
			}
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	inSh := false
	for _, line := range strings.Split(string(readme), "\n") {
		switch {
		case strings.HasPrefix(line, "```"):
			inSh = line == "```sh"
		case inSh && strings.Contains(line, "curl") && strings.Contains(line, "Authorization"):
			examples = append(examples, line)
		}
	}
	if len(examples) < 4 {
		t.Fatalf("found %d curl examples in the help and the README, want at least 4: %q", len(examples), examples)
	}

	run := func(example string) (reached bool, leaked []string) {
		t.Helper()
		_ = os.Remove(filepath.Join(out, "curl.stdin"))
		trace := filepath.Join(out, "trace")
		cmd := exec.Command("strace", "-f", "-qq", "-s", "65536", "-e", "trace=execve", "-e", "signal=none", "-o", trace, "sh", "-c", example)
		cmd.Env = append(w.Env(), "PATH="+bin+":"+w.Bin+":"+os.Getenv("PATH"))
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: %v: %s", example, err, b)
		}
		got, _ := os.ReadFile(filepath.Join(out, "curl.stdin"))
		reached = strings.Contains(string(got), "Authorization: Bearer "+key)
		tr, err := os.ReadFile(trace)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(tr), "\n") {
			// execve(path, [argv...], envp): the environment is the
			// user's own to read; argv is everyone's.
			argv, _, _ := strings.Cut(l, "], ")
			if strings.Contains(l, "execve(") && strings.Contains(argv, key) {
				leaked = append(leaked, strings.ReplaceAll(argv, key, hint(key)))
			}
		}
		return reached, leaked
	}
	clean := 0
	for _, ex := range examples {
		reached, leaked := run(ex)
		if reached && len(leaked) == 0 {
			clean++
		}
		if !reached {
			t.Errorf("%s: curl did not read the key's header on stdin", ex)
		}
		if len(leaked) > 0 {
			t.Errorf("%s: the key is in an argv: %q", ex, leaked)
		}
	}
	control := `curl -H "Authorization: Bearer $(torale-cred token)" https://api.torale.ai/auth/me`
	_, leaked := run(control)
	if len(leaked) == 0 {
		t.Errorf("the check missed the key in the control's argv (%s)", control)
	}
	t.Logf("%d documented curl examples, %d clean (the key reached curl on stdin and no argv); the control put it in %d argv: %q", len(examples), clean, len(leaked), leaked)
	report.add("Secrets hygiene", fmt.Sprintf("every documented curl example (%d, from --help, token --help, exec --help and the README) run as printed under strace -e execve", len(examples)),
		"the key reaches curl on its stdin and is in no process's argv; the control `curl -H \"Authorization: Bearer $(torale-cred token)\"` is caught",
		fmt.Sprintf("%d of %d clean; control caught: %v", clean, len(examples), len(leaked) > 0), okStr(clean == len(examples) && len(leaked) > 0))
}
