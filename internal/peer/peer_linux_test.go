//go:build linux

package peer

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// patience bounds a wait for a child to exec: it turns a hang into a
// failure and says nothing of the machine's speed.
const patience = 30 * time.Second

// A process whose ancestor is named sshd runs in an SSH login; one without such an ancestor did not, nor one under an ssh
// client (that is a forward, not a login).
func TestIdentifySSHChain(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	b, err := os.ReadFile(sh)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		ssh      bool
		procOnly bool
	}{{"sshd", true, false}, {"sshd-session", true, false}, {"notsshd", false, false}, {"ssh", false, false}, {"sshd", true, true}, {"notsshd", false, true}} {
		t.Run(fmt.Sprintf("%s/procOnly=%v", tc.name, tc.procOnly), func(t *testing.T) {
			fake := filepath.Join(t.TempDir(), tc.name)
			if err := os.WriteFile(fake, b, 0o755); err != nil {
				t.Fatal(err)
			}
			// The shell stays the sleeper's parent: it waits after it.
			cmd := exec.Command(fake, "-c", "sleep 30 & echo $!; wait")
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			line, err := bufio.NewReader(out).ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(line))
			if err != nil {
				t.Fatal(err)
			}
			defer func() { p, _ := os.FindProcess(pid); _ = p.Kill() }()
			// $! is known before the child has exec'd sleep.
			var c *Caller
			var id Identifier
			id.procOnly.Store(tc.procOnly)
			for deadline := time.Now().Add(patience); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				if c = id.Identify(pid, uint32(os.Getuid())); c.Comm == "sleep" {
					break
				}
			}
			if again := id.Identify(pid, uint32(os.Getuid())); again.SSHLogin != c.SSHLogin {
				t.Fatalf("remembered chain answers %v, first %v", again.SSHLogin, c.SSHLogin)
			}
			// Without the fake sshd, the answer is this test's own (a CI
			// runner may itself be reached over SSH).
			want := tc.ssh || Self().SSHLogin
			if c.SSHLogin != want || c.Comm != "sleep" || !strings.HasSuffix(c.Exe, "/sleep") {
				t.Fatalf("Identify(sleep under %s) = %+v, want ssh %v", tc.name, c, want)
			}
		})
	}
}

// A real line's tail: fields 3 (state) to 22 (start time) and beyond.
const statTail = " S 99 123 123 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 778899 1000 10"

func TestParseStat(t *testing.T) {
	cases := []struct {
		in    string
		ppid  int
		comm  string
		start uint64
		ok    bool
	}{
		{"123 (bash)" + statTail, 99, "bash", 778899, true},
		{"123 (a) b) c)" + statTail, 99, "a) b) c", 778899, true},
		{"123 (sshd-session)" + statTail, 99, "sshd-session", 778899, true},
		{"123 (bash) S 99 123 123 0 -1", 0, "", 0, false}, // cut short
		{"123 bash" + statTail, 0, "", 0, false},
		{"123 (bash)", 0, "", 0, false},
		{"", 0, "", 0, false},
	}
	for _, c := range cases {
		ppid, comm, start, ok := parseStat([]byte(c.in))
		if ppid != c.ppid || comm != c.comm || start != c.start || ok != c.ok {
			t.Errorf("parseStat(%q) = %d %q %d %v, want %d %q %d %v", c.in, ppid, comm, start, ok, c.ppid, c.comm, c.start, c.ok)
		}
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("123 (bash)" + statTail))
	f.Add([]byte("1 ()) S 0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ppid, comm, start, ok := parseStat(b)
		if !ok && (ppid != 0 || comm != "" || start != 0) {
			t.Fatalf("not ok but %d %q %d", ppid, comm, start)
		}
	})
}

// An Identifier remembers chains: the second caller under the same parent
// gets the same answer, and a chain through a fake sshd is still seen.
func TestIdentifierRemembersChains(t *testing.T) {
	var id Identifier
	a := id.Identify(os.Getpid(), 0)
	if len(id.chains) == 0 && os.Getppid() > 1 {
		t.Fatal("nothing remembered")
	}
	b := id.Identify(os.Getpid(), 0)
	if a.SSHLogin != b.SSHLogin || a.Exe != b.Exe || a.Comm != b.Comm || a.Unit != b.Unit {
		t.Fatalf("remembered answer differs: %+v %+v", a, b)
	}
	if c := Identify(os.Getpid(), 0); c.SSHLogin != a.SSHLogin {
		t.Fatalf("without memory: %+v, with: %+v", c, a)
	}
}

// The pidfd way and the /proc way name a process alike, and on a kernel
// that has PIDFD_GET_INFO the pidfd way is the one taken.
func TestPidfdAndProcAgree(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for _, pid := range []int{os.Getpid(), cmd.Process.Pid, os.Getppid()} {
		var fast, slow Identifier
		slow.procOnly.Store(true)
		var a, b *Caller
		// until sleep has exec'd
		for deadline := time.Now().Add(patience); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if a, b = fast.Identify(pid, 0), slow.Identify(pid, 0); a.Comm != "" && a.Comm == b.Comm {
				break
			}
		}
		if *a != *b {
			t.Errorf("pid %d: pidfd %+v, /proc %+v", pid, a, b)
		}
		if again := fast.Identify(pid, 0); *again != *a {
			t.Errorf("pid %d: remembered %+v, first %+v", pid, again, a)
		}
	}
	fd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		t.Skipf("no pidfd: %v", err)
	}
	defer unix.Close(fd)
	if err := unix.IoctlPidfdInfo(fd, &unix.PidfdInfo{}); err != nil {
		t.Skipf("no PIDFD_GET_INFO: %v", err)
	}
	var id Identifier
	id.Identify(cmd.Process.Pid, 0)
	for k := range id.chains {
		if !k.pidfs {
			t.Fatalf("chain remembered by start time (%+v): the pidfd way was not taken", k)
		}
	}
	if len(id.chains) == 0 {
		t.Fatal("nothing remembered")
	}
}

// A process that has ended (and its pid) is named by its pid alone,
// either way.
func TestIdentifyEnded(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	slow := &Identifier{}
	slow.procOnly.Store(true)
	for _, id := range []*Identifier{{}, slow} {
		if c := id.Identify(cmd.Process.Pid, 7); c.Exe != "" || c.Comm != "" || c.Unit != "" || c.PID != cmd.Process.Pid || c.UID != 7 {
			t.Errorf("gone process named %+v", c)
		}
	}
}

// A kernel's refusal of pidfds or of PIDFD_GET_INFO sends every later
// caller to /proc at once; a passing failure does not.
func TestRefusalSwitchesToProc(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{{unix.ENOSYS, true}, {unix.ENOTTY, true}, {unix.EINVAL, true}, {unix.EMFILE, false}, {unix.ESRCH, false}} {
		var id Identifier
		id.refused(tc.err)
		if id.procOnly.Load() != tc.want {
			t.Errorf("after %v: procOnly %v, want %v", tc.err, id.procOnly.Load(), tc.want)
		}
	}
	(*Identifier)(nil).refused(unix.ENOSYS) // a nil Identifier remembers nothing

	var id Identifier
	id.refused(unix.ENOTTY)
	id.Identify(os.Getpid(), 0)
	if len(id.chains) == 0 {
		t.Fatal("nothing remembered")
	}
	for k := range id.chains {
		if k.pidfs {
			t.Fatalf("chain remembered by pidfs inode (%+v) after the kernel refused", k)
		}
	}
}

// TestReadlinkatLongTargets: a link read into the small stack buffer and
// one longer than it (an executable deep in a home directory) read whole.
func TestReadlinkatLongTargets(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{1, 255, 256, 257, 1000, unix.PathMax - 1} {
		target := "/" + strings.Repeat("x", n-1)
		link := filepath.Join(dir, strconv.Itoa(n))
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		got, err := readlinkat(unix.AT_FDCWD, link)
		if err != nil || got != target {
			t.Errorf("a %d-byte target: got %d bytes, %v", n, len(got), err)
		}
	}
}
