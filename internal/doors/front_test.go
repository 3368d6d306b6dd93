//go:build linux && !race

package doors

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/internal/proctest"
	"github.com/torale-ai/torale-cred/internal/testkeyring"
)

// run is one process's whole output.
type run struct {
	out, err string
	code     int
	took     time.Duration
}

// runProg runs bin/prog as argv0 with args, stdin and the world's
// environment then env.
func runProg(t *testing.T, w *proctest.World, prog, argv0, stdin string, env []string, args ...string) run {
	t.Helper()
	cmd := exec.Command(filepath.Join(w.Bin, prog), args...)
	cmd.Args[0] = argv0
	cmd.Env = append(w.Env(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := run{out: out.String(), err: errb.String(), took: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return r
}

// pids are the one thing two runs may print differently.
var pids = regexp.MustCompile(`\(pid [0-9]+\)`)

// sameAsCLI runs the lean front (torale-cred, or git-credential-torale
// when git) and the full CLI it stands for (torale-cred-cli, as
// git-credential-torale when git) on the same input, and fails unless
// both print the same and exit the same.
func sameAsCLI(t *testing.T, w *proctest.World, git bool, stdin string, env []string, args ...string) run {
	t.Helper()
	front, name := "torale-cred", "torale-cred"
	if git {
		front, name = "git-credential-torale", "git-credential-torale"
	}
	f := runProg(t, w, front, name, stdin, env, args...)
	c := runProg(t, w, "torale-cred-cli", name, stdin, env, args...)
	if f.out != c.out || pids.ReplaceAllString(f.err, "(pid N)") != pids.ReplaceAllString(c.err, "(pid N)") || f.code != c.code {
		t.Errorf("%s %q: the front and the full CLI differ:\nfront: exit %d\nstdout %q\nstderr %q\ncli:   exit %d\nstdout %q\nstderr %q",
			name, args, f.code, hideKeys(f.out), f.err, c.code, hideKeys(c.out), c.err)
	}
	return f
}

// TestFrontSaysWhatTheCLISays: every case the lean fronts hand on (and the
// one they answer themselves) prints the same bytes and exits the same as
// the full CLI run directly.
func TestFrontSaysWhatTheCLISays(t *testing.T) {
	testkeyring.Require(t)
	w := newWorld(t)
	st := w.Store()
	ctx := context.Background()
	gitGet := "protocol=https\nhost=api.torale.ai\n\n"

	type tc struct {
		git   bool
		stdin string
		env   []string
		args  []string
		code  int
	}
	noDaemon := []tc{
		{args: []string{"token"}, code: 3},
		{args: []string{"token", "--profile", "work"}, code: 3},
		{args: []string{"--profile=work", "token"}, code: 3},
		{args: []string{"--help"}},
		{args: []string{"token", "--help"}},
		{args: []string{"version"}},
		{args: []string{"token", "--bogus"}, code: 2},
		{args: []string{"token", "extra"}, code: 2},
		{args: []string{"token", keyOther}, code: 2},
		{args: []string{"token", "--profile", "bad/name"}, code: 2},
		{args: []string{"token"}, env: []string{"TORALE_API_KEY=" + keyEnv}},
		{args: []string{"bogus"}, code: 2},
		{git: true, stdin: gitGet, args: []string{"get"}},
		{git: true, args: []string{"--help"}},
		{git: true, args: []string{"--version"}},
		{git: true, args: []string{"--bogus", "get"}, code: 2},
	}
	for _, c := range noDaemon {
		if r := sameAsCLI(t, w, c.git, c.stdin, c.env, c.args...); r.code != c.code {
			t.Errorf("no daemon: %q exit %d, want %d: %s", c.args, r.code, c.code, r.err)
		}
	}

	// A stored key, one for work that is past its rotation date, then the daemon.
	if _, err := st.Put(ctx, "default", keyDefault, credstore.PutOptions{Source: credstore.SourceLogin}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, "work", keyWork, credstore.PutOptions{Source: credstore.SourceLogin}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = st.Keychain.Delete(context.Background(), "default")
		_ = st.Keychain.Delete(context.Background(), "work")
	})
	if _, err := st.Put(ctx, "locked", keyOther, credstore.PutOptions{Source: credstore.SourceLogin}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Keychain.Delete(context.Background(), "locked") })
	if err := st.StateFile.Update(func(s *credstore.State) error {
		s.Profiles["work"].StoredAt = time.Now().Add(-100 * 24 * time.Hour)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if r := runProg(t, w, "torale-cred", "torale-cred", "", nil, "policy", "set", "locked", "allow", "/bin/false"); r.code != 0 {
		t.Fatalf("policy set: exit %d %s", r.code, r.err)
	}
	d := w.Daemon(t, nil, "--no-watch")
	withDaemon := []tc{
		{args: []string{"token"}},
		{args: []string{"token", "--profile", "work"}}, // rotation due: the hint, then the key
		{args: []string{"token", "--profile", "nobody"}, code: 3},
		{args: []string{"token", "--profile", "locked"}, code: 1}, // the policy refuses torale-cred
		{args: []string{"token"}, env: []string{"TORALE_API_KEY=" + keyEnv}},
		{args: []string{"token", "--profile", "nobody"}, env: []string{"TORALE_NOAUTH=1"}, code: 3},
		{args: []string{"token"}, env: []string{"TORALE_CRED_KEYCHAIN_TIMEOUT=soon"}},
		{args: []string{"token"}, env: []string{"TORALE_CRED_ROTATE_AFTER=1d"}},
		{args: []string{"token"}, env: []string{"TORALE_CRED_ROTATE_AFTER=never"}},
		{git: true, stdin: gitGet, args: []string{"get"}},
		{git: true, stdin: "protocol=https\nhost=example.com\n\n", args: []string{"get"}},
		{git: true, stdin: "protocol=https\nhost=api.torale.ai\nusername=work\n\n", args: []string{"get"}},
		{git: true, stdin: "protocol=https\nhostapi.torale.ai\n\n", args: []string{"get"}, code: 1}, // refused by the daemon: replayed to the full helper
		{git: true, stdin: "protocol=https\nhost=api.torale.ai\nhost=evil.example\n\n", args: []string{"get"}, code: 1},
		{git: true, stdin: "protocol=https\nhost=api.torale.ai\npassword=\xff\n\n", args: []string{"get"}},
		{git: true, stdin: gitGet, args: []string{"--profile", "work", "get"}},
		{git: true, stdin: "protocol=https\nhost=api.torale.ai\nusername=default\npassword=sk_notakey\n\n", args: []string{"store"}},
	}
	for _, c := range withDaemon {
		r := sameAsCLI(t, w, c.git, c.stdin, c.env, c.args...)
		if r.code != c.code {
			t.Errorf("daemon: %q exit %d, want %d: %s", c.args, r.code, c.code, r.err)
		}
	}
	// What the front hands on is the answer it got: the CLI does not ask
	// again, so the trail records one hand-out (or one refusal) a run.
	trail := func() int {
		b, _ := os.ReadFile(filepath.Join(w.State, "audit.jsonl"))
		return strings.Count(string(b), "\n")
	}
	for _, profile := range []string{"work", "locked", "default"} {
		time.Sleep(300 * time.Millisecond) // the daemon writes its trail every 100 ms
		before := trail()
		r := runProg(t, w, "torale-cred", "torale-cred", "", nil, "token", "--profile", profile)
		if profile == "work" && (!strings.Contains(r.err, "rotation was due") || strings.TrimSpace(r.out) != keyWork) {
			t.Errorf("a due rotation: stderr %q, stdout %q", r.err, hideKeys(r.out))
		}
		time.Sleep(300 * time.Millisecond)
		if n := trail() - before; n != 1 {
			t.Errorf("token --profile %s through the front: %d audit records, want 1", profile, n)
		}
	}
	// The git front hands a refusal on too: one refusal record, not two.
	for _, profile := range []string{"locked", "default"} {
		time.Sleep(300 * time.Millisecond)
		before := trail()
		r := runProg(t, w, "git-credential-torale", "git-credential-torale", "protocol=https\nhost=api.torale.ai\nusername="+profile+"\n\n", nil, "get")
		if profile == "locked" && (r.code != 1 || !strings.Contains(r.err, "policy allow")) {
			t.Errorf("git get for a refused profile: exit %d, stderr %q", r.code, r.err)
		}
		time.Sleep(300 * time.Millisecond)
		if n := trail() - before; n != 1 {
			t.Errorf("git get --profile %s through the front: %d audit records, want 1", profile, n)
		}
	}

	// A stuck daemon: one warning and one client timeout (1 s keychain
	// timeout + 2 s), not one in the front and another in the CLI.
	if err := d.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = d.Cmd.Process.Signal(syscall.SIGCONT) }()
	stuck := []string{"TORALE_CRED_KEYCHAIN_TIMEOUT=1s"}
	for _, git := range []bool{false, true} {
		name, args, stdin := "torale-cred", []string{"token"}, ""
		if git {
			name, args, stdin = "git-credential-torale", []string{"get"}, gitGet
		}
		f := runProg(t, w, name, name, stdin, stuck, args...)
		c := runProg(t, w, "torale-cred-cli", name, stdin, stuck, args...)
		if f.out != c.out || f.err != c.err || f.code != c.code {
			t.Errorf("%s with a stuck daemon: front exit %d %q %q; cli exit %d %q %q", name, f.code, hideKeys(f.out), f.err, c.code, hideKeys(c.out), c.err)
		}
		if n := strings.Count(f.err, "did not answer"); n != 1 || !strings.Contains(f.out, keyDefault) {
			t.Errorf("%s with a stuck daemon: %d warnings (want 1), stdout %q", name, n, hideKeys(f.out))
		}
		if f.took > 5*time.Second || f.took > c.took+1500*time.Millisecond {
			t.Errorf("%s with a stuck daemon took %v (the CLI alone %v): two timeouts?", name, f.took.Round(time.Millisecond), c.took.Round(time.Millisecond))
		}
	}
}
