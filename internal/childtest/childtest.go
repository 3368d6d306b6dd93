// Package childtest runs a test of this test binary again in a child
// process: for a test that needs a process of its own (another D-Bus
// session, since godbus keeps the first one a process connects to) or one
// it kills at a chosen instant (the SIGKILL fault tests). For tests only.
package childtest

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// childEnv names the test a re-executed test binary runs (Run).
const childEnv = "TORALE_CRED_TEST_CHILD"

// IsChild reports whether this process is the child Run started
// for t.
func IsChild(t testing.TB) bool { return os.Getenv(childEnv) == t.Name() }

// Run runs t alone in a child of this test binary with env added,
// and fails t unless the child passes. A test that needs a D-Bus session
// of its own (a private bus, a keychain it locks) runs its body there:
// godbus keeps the first session bus a process connects to, and a lock on
// the suite's shared Secret Service would fail whatever else uses it.
// Use: if !childtest.IsChild(t) { set up; childtest.Run(t, env...); return }.
func Run(t testing.TB, env ...string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(append(os.Environ(), childEnv+"="+t.Name()), env...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS") {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
}

// Child is a test of this binary running in a child process that says
// "ready" once set up, then a line per thing it has done, and is killed at
// an instant the parent picks.
type Child struct {
	cmd      *exec.Cmd
	lines    chan string
	patience time.Duration
}

// Start runs test in a child with env added, its stderr this process's,
// and waits for its "ready", failing t otherwise. A line the parent does
// not read is dropped past 100, so a chatty child never blocks.
func Start(t testing.TB, test string, patience time.Duration, env ...string) *Child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &Child{cmd: cmd, lines: make(chan string, 100), patience: patience}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case c.lines <- sc.Text():
			default:
			}
		}
	}()
	if l := c.Next(); l != "ready" {
		c.Kill()
		t.Fatalf("the child did not start: %q", l)
	}
	return c
}

// Next is the child's next line, or a note that none came within its
// patience.
func (c *Child) Next() string {
	select {
	case l := <-c.lines:
		return l
	case <-time.After(c.patience):
		return "(nothing for " + c.patience.String() + ")"
	}
}

// Kill ends the child at once (SIGKILL on Unix) and waits for it.
func (c *Child) Kill() {
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
}
