//go:build linux

package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// ptyDriver runs torale-cred exec as the foreground job of a new terminal
// (python3's pty module), types Ctrl-C once, and prints what the command saw.
const ptyDriver = `
import os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execvp("torale-cred", ["torale-cred", "exec", "--", "sh", "-c",
        "trap 'echo got-INT' INT; echo ready; i=0; while [ $i -lt 20 ]; do sleep 0.05; i=$((i+1)); done; echo done"])
out = b""
def read_until(token, limit=10.0):
    global out
    end = time.time() + limit
    while token not in out and time.time() < end:
        try:
            out += os.read(fd, 4096)
        except OSError:
            break
read_until(b"ready")
os.write(fd, b"\x03")
read_until(b"done")
os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
`

// TestExecCtrlCOnce: Ctrl-C at a terminal reaches the command once. The
// terminal already signals the whole foreground process group, so exec must
// not pass SIGINT on a second time.
func TestExecCtrlCOnce(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		needTool(t, "python3")
	}
	cmd := exec.Command("python3", "-c", ptyDriver)
	cmd.Env = append(os.Environ(), "TORALE_API_KEY=sk_ENVenvENVenvENVenvENVenvENVenv1234")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pty driver: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "got-INT"); n != 1 || !strings.Contains(string(out), "done") {
		t.Fatalf("the command saw Ctrl-C %d times, want once; terminal output:\n%s", n, out)
	}
}
