//go:build linux

package ipc_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/ipc"
)

// identifiedPeer is the start of a python3 peer: it connects to the
// socket sys.argv[1] (as s) and waits until the server has identified it
// (the health answer), so that what it does next comes after.
const identifiedPeer = `
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: torale\r\n\r\n")
buf = b""
while b'"status":"ok"' not in buf:
    chunk = s.recv(4096)
    if not chunk:
        sys.exit("connection closed")
    buf += chunk
`

// A process that connects and then execs another program in the same pid
// is no longer the caller the daemon identified: its request is refused
// before anything is handed out (the trail named the new program, or, for
// torale-cred's own, did not judge it at all).
func TestPeerThatExecsAnotherProgramIsRefused(t *testing.T) {
	python, perlErr := exec.LookPath("python3")
	perl, err := exec.LookPath("perl")
	if perlErr != nil || err != nil {
		t.Fatal("python3 and perl are needed (Debian's python3 and perl-base)")
	}
	st, _ := newStore(t)
	if _, err := st.Put(t.Context(), "default", "sk_abc123def456ghi789jkl012mno345pqRST", credstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	sock, _ := serve(t, st, ipc.Options{})
	// python3 connects and waits until the daemon has identified it (the
	// health answer), then execs perl on the same connection (fd 3), and
	// perl asks for the key.
	script := identifiedPeer + `
os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
os.execv(sys.argv[2], [sys.argv[2], "-e", sys.argv[3]])
`
	perlAsk := `open(my $s, "+<&=3") or die; binmode $s; $| = 1; select($s); $| = 1; select(STDOUT);
print $s "POST /v1/resolve HTTP/1.1\r\nHost: torale\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
while (<$s>) { print }`
	out, err := exec.Command(python, "-c", script, sock, perl, perlAsk).CombinedOutput()
	if err != nil {
		t.Fatalf("python then perl: %v\n%s", err, out)
	}
	refusedAsChanged(t, out)
}

// The same when the program exec'd into is torale-cred's own: a forked
// child keeps the connection and names a door, while the pid the server
// identified now runs "our" executable (here this test binary). Such a
// request was once exempt ("ours": neither judged nor recorded); now the
// change of program refuses it before anything else.
func TestPeerThatExecsOurProgramIsRefused(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is needed (Debian's python3)")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	self, _ = filepath.EvalSymlinks(self)
	st, _ := newStore(t)
	if _, err := st.Put(t.Context(), "default", "sk_abc123def456ghi789jkl012mno345pqRST", credstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	sock, _ := serve(t, st, ipc.Options{})
	done := filepath.Join(t.TempDir(), "done")
	// python3 connects and waits until the daemon has identified it, then
	// forks: the parent execs this test binary (which waits for done),
	// the child waits for that exec, asks for the key through the door
	// "token", prints the answer and creates done.
	script := identifiedPeer + `
parent = os.getpid()
if os.fork() != 0:
    os.execv(sys.argv[2], [sys.argv[2]])
try:
    for _ in range(6000):
        if os.readlink("/proc/%d/exe" % parent) == sys.argv[2]:
            break
        time.sleep(0.01)
    s.sendall(b"POST /v1/resolve HTTP/1.1\r\nHost: torale\r\nTorale-Cred-Door: token\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
    out = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        out += chunk
    sys.stdout.write(out.decode(errors="replace"))
    sys.stdout.flush()
finally:
    open(sys.argv[3], "w").close()
    os._exit(0)
`
	cmd := exec.Command(python, "-c", script, sock, self, done)
	cmd.Env = append(os.Environ(), helperWaitEnv+"="+done)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python then this binary: %v\n%s", err, out)
	}
	refusedAsChanged(t, out)
}

// refusedAsChanged: the raw HTTP answer out refuses the request because
// the peer now runs another program, and holds no key.
func refusedAsChanged(t *testing.T, out []byte) {
	t.Helper()
	if !strings.Contains(string(out), "HTTP/1.1 403") || !strings.Contains(string(out), "now runs another program") {
		t.Fatalf("the request of a peer that exec'd another program was answered:\n%s", out)
	}
	if strings.Contains(string(out), "sk_") {
		t.Fatalf("a key in the answer:\n%s", out)
	}
}
