//go:build linux

package peer

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A process whose ancestor is named sshd came in over SSH (a forwarded
// socket); one without such an ancestor did not.
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
		name string
		ssh  bool
	}{{"sshd", true}, {"sshd-session", true}, {"notsshd", false}} {
		t.Run(tc.name, func(t *testing.T) {
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
			for range 200 {
				if c = Identify(pid, uint32(os.Getuid())); c.Comm == "sleep" {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			// Without the fake sshd, the answer is this test's own (a CI
			// runner may itself be reached over SSH).
			want := tc.ssh || Self().SSH
			if c.SSH != want || c.Comm != "sleep" || !strings.HasSuffix(c.Exe, "/sleep") {
				t.Fatalf("Identify(sleep under %s) = %+v, want ssh %v", tc.name, c, want)
			}
		})
	}
}

func TestParseStat(t *testing.T) {
	cases := []struct {
		in   string
		ppid int
		comm string
		ok   bool
	}{
		{"123 (bash) S 99 123 123 0 -1", 99, "bash", true},
		{"123 (a) b) c) S 7 1 1", 7, "a) b) c", true},
		{"123 (sshd-session) S 1 1 1", 1, "sshd-session", true},
		{"123 bash S 99", 0, "", false},
		{"123 (bash)", 0, "", false},
		{"", 0, "", false},
	}
	for _, c := range cases {
		ppid, comm, ok := parseStat([]byte(c.in))
		if ppid != c.ppid || comm != c.comm || ok != c.ok {
			t.Errorf("parseStat(%q) = %d %q %v, want %d %q %v", c.in, ppid, comm, ok, c.ppid, c.comm, c.ok)
		}
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("123 (bash) S 99 123 123 0 -1"))
	f.Add([]byte("1 ()) S 0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ppid, comm, ok := parseStat(b)
		if !ok && (ppid != 0 || comm != "") {
			t.Fatalf("not ok but %d %q", ppid, comm)
		}
	})
}
