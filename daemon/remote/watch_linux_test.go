//go:build linux

package remote

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A process read in the middle of its exec is neither ssh nor another
// program yet: still under the name torale-cred ssh had when the session
// opened, it is pending. Once named otherwise, a program that is not ssh
// is another program.
func TestStateWhileStillNamedAsOursIsPending(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	// Start returns once the exec is under way, not done: wait until the
	// kernel shows sleep's name and arguments.
	dir := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/"
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		comm, _ := os.ReadFile(dir + "comm")
		cmdline, _ := os.ReadFile(dir + "cmdline")
		if strings.TrimSpace(string(comm)) == "sleep" && len(cmdline) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sleep never showed its name and arguments: %q %q", comm, cmdline)
		}
	}
	w, err := watchProcess(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	if w.ourComm != "" {
		t.Fatalf("sleep, not torale-cred's own program, was recorded as ours (%q)", w.ourComm)
	}
	w.ourComm = "sleep" // as if torale-cred ssh had been named so: its exec not yet done
	if got := w.state([]string{"60"}); got != procPending {
		t.Fatalf("a process still named as ours: state %d, want pending", got)
	}
	w.ourComm = "torale-cred"
	if got := w.state([]string{"60"}); got != procOther {
		t.Fatalf("sleep, named sleep: state %d, want another program", got)
	}
}
