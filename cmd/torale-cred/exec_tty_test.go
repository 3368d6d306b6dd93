//go:build linux && !race

package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// ptyDriver runs torale-cred exec as the foreground job of a new terminal
// (python3's pty module), types Ctrl-C once, and prints what the command saw.
// The command waits for the first Ctrl-C (up to a minute, however late a
// loaded machine types it), then a second for a repeated one, then ends.
// The limits only turn a hang into a failure.
const ptyDriver = `
import os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execvp("torale-cred", ["torale-cred", "exec", "--", "sh", "-c",
        "n=0; trap 'n=$((n+1)); echo got-INT' INT; echo ready; " +
        "i=0; while [ $n -eq 0 ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; " +
        "i=0; while [ $i -lt 20 ]; do sleep 0.05; i=$((i+1)); done; echo done"])
out = b""
def read_until(token, limit=120.0):
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
	t.Parallel()
	if _, err := exec.LookPath("python3"); err != nil {
		needTool(t, "python3")
	}
	cmd := exec.Command("python3", "-c", ptyDriver)
	// A world of its own: no daemon another test started can answer it.
	cmd.Env = append(isolatedEnv(t), "TORALE_API_KEY=sk_ENVenvENVenvENVenvENVenvENVenv1234")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pty driver: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "got-INT"); n != 1 || !strings.Contains(string(out), "done") {
		t.Fatalf("the command saw Ctrl-C %d times, want once; terminal output:\n%s", n, out)
	}
}

// loginDriver runs torale-cred login as the foreground job of a new
// terminal, types part of a key and Ctrl-C, and reports the exit status and
// whether the terminal echoes again.
const loginDriver = `
import os, pty, sys, time, termios
pid, fd = pty.fork()
if pid == 0:
    os.execvp("torale-cred", ["torale-cred", "login"])
out = b""
end = time.time() + 60
while b"hidden" not in out and time.time() < end:
    out += os.read(fd, 4096)
time.sleep(0.2)
os.write(fd, b"sk_abc")
time.sleep(0.2)
os.write(fd, b"\x03")
_, status = os.waitpid(pid, 0)
echo = bool(termios.tcgetattr(fd)[3] & termios.ECHO)
sys.stdout.write("exit=%d echo=%s\n" % (os.waitstatus_to_exitcode(status), echo))
`

// TestLoginPromptCtrlC: Ctrl-C at the hidden prompt ends login at once with
// exit 130 and the terminal echoing again; nothing is stored.
func TestLoginPromptCtrlC(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("python3"); err != nil {
		needTool(t, "python3")
	}
	home := t.TempDir()
	cmd := exec.Command("python3", "-c", loginDriver)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_STATE_HOME="+home+"/state", "TORALE_CRED_NO_DAEMON=1",
		"TORALE_CRED_KEYCHAIN_SERVICE=torale-test-ctrlc-"+strings.ReplaceAll(t.Name(), "/", "-"))
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute): // past the driver's own wait for the prompt
		_ = cmd.Process.Kill()
		t.Fatal("login went on reading after Ctrl-C")
	}
	if err != nil {
		t.Fatalf("pty driver: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "exit=130 echo=True") {
		t.Fatalf("after Ctrl-C: %s (want exit=130 echo=True)", out)
	}
}
