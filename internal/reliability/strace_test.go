//go:build linux

package reliability

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rewriteCall is one system call the daemon's move of a key out of
// config.json makes (credstore.MigrateConfig: read the file, store the key
// over D-Bus, then internal/atomicfile.Swap.Write: temp file, last look,
// exchange, check of what was displaced, directory sync, clean-up), as
// strace names it, found by tracing a real migration.
type rewriteCall struct {
	names string        // strace's names for it (-e trace=)
	delay time.Duration // how long strace holds each call at entry
	where string        // where the move makes it
	// onSocket: every delayed call counts (the keychain's D-Bus replies
	// name no file); otherwise only the calls that name config.json's
	// directory, the file, or its temp file (strace -y shows an fd's path).
	onSocket bool
}

// rewriteCalls are every system call of the move, each delayed in turn.
var rewriteCalls = []rewriteCall{
	{names: "newfstatat", delay: 10 * time.Millisecond, where: "stat of config.json before the read, the last look, the displaced file"},
	{names: "openat", delay: 10 * time.Millisecond, where: "open of config.json, of the temp file (O_EXCL), the last look, the displaced file, the directory"},
	{names: "fcntl", delay: 10 * time.Millisecond, where: "flags of every file opened (Go's poller check)"},
	{names: "epoll_ctl", delay: 10 * time.Millisecond, where: "poller registration of every file opened"},
	{names: "fstat", delay: 10 * time.Millisecond, where: "size of config.json and the displaced file before reading"},
	{names: "read", delay: 10 * time.Millisecond, where: "read of config.json, the last look, the displaced file"},
	{names: "recvmsg", delay: 2 * time.Millisecond, onSocket: true, where: "the keychain's D-Bus replies while the key is stored and read back"},
	{names: "write", delay: 10 * time.Millisecond, where: "the temp file's content"},
	{names: "fsync", delay: 10 * time.Millisecond, where: "the temp file, the directory"},
	{names: "close", delay: 10 * time.Millisecond, where: "every file opened"},
	{names: "fchmodat", delay: 10 * time.Millisecond, where: "the temp file's mode"},
	{names: "rename,renameat,renameat2", delay: 10 * time.Millisecond, where: "the exchange (RENAME_EXCHANGE) and the swap back"},
	{names: "unlinkat", delay: 10 * time.Millisecond, where: "removal of the temp file (what was displaced)"},
}

// needStrace skips t unless strace can attach (root), failing it in CI.
func needStrace(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if inCI() {
			t.Fatal("strace -p needs root (CI runs as root)")
		}
		t.Skip("strace -p needs root")
	}
	if _, err := exec.LookPath("strace"); err != nil {
		if inCI() {
			t.Fatal("strace is needed (.ci/deps installs it)")
		}
		t.Skip("strace is not installed")
	}
}

// delayTracer is strace attached to a daemon, holding each call of one
// kind at entry for its delay. It reports a call of the move the moment
// its hold begins: strace prints (and flushes) a call's arguments at entry,
// before it delays it.
type delayTracer struct {
	cmd   *exec.Cmd
	calls chan string // the entering part of each delayed call of the move
	done  chan struct{}
}

// traceDelays attaches strace to pid (every thread, -f) delaying every
// call of c, and waits until each thread is traced. Calls of the move are
// those naming dir (config.json's directory), or any call when c.onSocket.
// Payloads are never printed (-s 0): a D-Bus message may hold a key.
func traceDelays(t *testing.T, pid int, c rewriteCall, dir string) *delayTracer {
	t.Helper()
	st := exec.Command("strace", "-f", "-qq", "-y", "-s", "0", "-e", "signal=none", "-p", fmt.Sprint(pid),
		"-e", "trace="+c.names, "-e", fmt.Sprintf("inject=%s:delay_enter=%d", c.names, c.delay.Microseconds()))
	out, err := st.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Start(); err != nil {
		t.Fatal(err)
	}
	tr := &delayTracer{cmd: st, calls: make(chan string, 1<<14), done: make(chan struct{})}
	names := strings.Split(c.names, ",")
	go tr.parse(out, names, dir, c.onSocket)
	t.Cleanup(tr.stop)
	deadline := time.Now().Add(patience)
	for !tracedBy(pid, st.Process.Pid) {
		if time.Now().After(deadline) {
			t.Fatalf("strace did not attach to every thread of %d within %s", pid, patience)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return tr
}

// parse reads strace's output as it comes, partial lines included (a
// delayed call's line ends only when the call returns).
func (tr *delayTracer) parse(r io.Reader, names []string, dir string, any bool) {
	defer close(tr.done)
	var line []byte
	reported := false
	buf := make([]byte, 64<<10)
	consider := func() {
		if reported {
			return
		}
		s := string(line)
		if i := strings.Index(s, "] "); strings.HasPrefix(s, "[pid ") && i > 0 {
			s = s[i+2:]
		}
		for _, n := range names {
			if strings.HasPrefix(s, n+"(") && (any || strings.Contains(s, dir)) {
				reported = true
				tr.calls <- s
				return
			}
		}
	}
	for {
		n, err := r.Read(buf)
		chunk := buf[:n]
		for len(chunk) > 0 {
			i := bytes.IndexByte(chunk, '\n')
			if i < 0 {
				line = append(line, chunk...)
				consider()
				break
			}
			line = append(line, chunk[:i]...)
			consider()
			line, reported, chunk = line[:0], false, chunk[i+1:]
		}
		if err != nil {
			return
		}
	}
}

// next waits up to limit for the next delayed call of the move.
func (tr *delayTracer) next(limit time.Duration) (string, bool) {
	select {
	case s := <-tr.calls:
		return s, true
	case <-time.After(limit):
		return "", false
	}
}

// quiet discards calls until none came for d, and says how many it saw.
func (tr *delayTracer) quiet(d time.Duration) int {
	n := 0
	for {
		if _, ok := tr.next(d); !ok {
			return n
		}
		n++
	}
}

func (tr *delayTracer) stop() {
	if tr.cmd.ProcessState == nil {
		_ = tr.cmd.Process.Kill()
		<-tr.done
		_ = tr.cmd.Wait()
	}
}

// tracedBy says whether every thread of pid has tracer as its tracer.
func tracedBy(pid, tracer int) bool {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil || len(tasks) == 0 {
		return false
	}
	want := fmt.Sprintf("TracerPid:\t%d\n", tracer)
	for _, task := range tasks {
		b, err := os.ReadFile(filepath.Join("/proc", fmt.Sprint(pid), "task", task.Name(), "status"))
		if err != nil || !bytes.Contains(b, []byte(want)) {
			return false
		}
	}
	return true
}

// summarize names the file each call concerns: "openat config.json,
// openat .config.json.N.tmp, …" (the directory itself as its name);
// consecutive calls on one file are counted, not repeated.
func summarize(lines []string, dir string) string {
	var out []string
	last, n := "", 0
	flush := func() {
		switch {
		case n == 1:
			out = append(out, last)
		case n > 1:
			out = append(out, fmt.Sprintf("%s ×%d", last, n))
		}
	}
	for _, l := range lines {
		name, _, _ := strings.Cut(l, "(")
		file := "socket"
		if i := strings.Index(l, dir); i >= 0 {
			rest := l[i+len(dir):]
			file = filepath.Base(dir)
			if strings.HasPrefix(rest, "/") {
				file = strings.TrimPrefix(rest, "/")
				if j := strings.IndexAny(file, "\">"); j >= 0 {
					file = file[:j]
				}
			}
		}
		if strings.HasPrefix(file, ".config.json.") && strings.HasSuffix(file, ".tmp") {
			file = ".config.json.N.tmp"
		}
		s := name + " " + file
		if s != last {
			flush()
			last, n = s, 0
		}
		n++
	}
	flush()
	return strings.Join(out, ", ")
}
