//go:build linux

package harden

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The tests change their process for good: each runs again in a child
// process of its own (TORALE_HARDEN_CHILD), so the others, and the test
// binary, stay as they were. ranInChild is true in the parent, once the
// child passed.
func ranInChild(t *testing.T, name string) bool {
	t.Helper()
	if os.Getenv("TORALE_HARDEN_CHILD") == name {
		return false
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), "TORALE_HARDEN_CHILD="+name)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("in a child process: %v\n%s", err, out)
	}
	return true
}

func TestProcessMakesTheProcessUndumpable(t *testing.T) {
	if ranInChild(t, "TestProcessMakesTheProcessUndumpable") {
		return
	}
	if errs := Process(); len(errs) > 0 {
		t.Fatal(errs)
	}
	if d, err := Dumpable(); err != nil || d {
		t.Fatalf("Dumpable() = %v, %v", d, err)
	}
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_CORE, &rl); err != nil || rl.Cur != 0 || rl.Max != 0 {
		t.Fatalf("RLIMIT_CORE = %+v, %v", rl, err)
	}
}

// NoDump leaves the core size alone, and a program the process then runs
// is dumpable again: exec's command keeps its own debugging and cores.
func TestNoDumpIsNotPassedOn(t *testing.T) {
	if ranInChild(t, "TestNoDumpIsNotPassedOn") {
		return
	}
	var before unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_CORE, &before); err != nil {
		t.Fatal(err)
	}
	if err := NoDump(); err != nil {
		t.Fatal(err)
	}
	if d, err := Dumpable(); err != nil || d {
		t.Fatalf("Dumpable() = %v, %v", d, err)
	}
	var after unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_CORE, &after); err != nil || after != before {
		t.Fatalf("RLIMIT_CORE %+v became %+v", before, after)
	}
	// PR_GET_DUMPABLE read by the started program itself.
	out, err := exec.Command(os.Args[0], "-test.run=^TestReportDumpable$", "-test.count=1", "-test.v").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "dumpable=true") {
		t.Fatalf("the program started after NoDump: %v\n%s", err, out)
	}
}

// TestReportDumpable prints this process's dumpable flag (for
// TestNoDumpIsNotPassedOn, which runs it as a child).
func TestReportDumpable(t *testing.T) {
	d, err := Dumpable()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dumpable=%v", d)
}
