//go:build linux

package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/torale-ai/torale-cred/internal/harden"
)

// `torale-cred exec` holds the key for its command's life: while the
// command runs, the exec process is not dumpable, and the command is. This
// test binary plays three parts, chosen by TORALE_EXEC_HARDEN: the test;
// "exec", a process that runs `torale-cred exec` (which cannot be undone);
// "command", the command that exec runs, which reports.
func TestExecParentIsNotDumpable(t *testing.T) {
	switch os.Getenv("TORALE_EXEC_HARDEN") {
	case "exec":
		runExecForHardenTest(t)
		return
	case "command":
		reportFromCommand(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestExecParentIsNotDumpable$", "-test.count=1")
	cmd.Env = append(os.Environ(), "TORALE_EXEC_HARDEN=exec")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var parent, command string
	owner := -1
	for _, l := range strings.Split(string(out), "\n") {
		if _, rest, ok := strings.Cut(l, "report: "); ok {
			fmt.Sscanf(rest, "parent=%s command=%s owner=%d", &parent, &command, &owner)
		}
	}
	if parent != "false" || command != "true" {
		t.Fatalf("dumpable: exec process %q, its command %q; want false and true\n%s", parent, command, out)
	}
	// To any uid but root's, a process that is not dumpable has its /proc
	// files owned by root: what the user's other processes meet.
	if os.Getuid() != 0 && owner != 0 {
		t.Fatalf("/proc/<exec pid>/status is owned by uid %d, want 0", owner)
	}
}

// runExecForHardenTest runs `torale-cred exec -- <this binary>` in this
// process, then says whether this process is dumpable now.
func runExecForHardenTest(t *testing.T) {
	t.Setenv("TORALE_EXEC_HARDEN", "command") // the command's environment is this process's
	env := map[string]string{"HOME": t.TempDir(), "TORALE_CRED_NO_DAEMON": "1", "PATH": os.Getenv("PATH")}
	ios, out, errOut := Test("")
	code := Run(context.Background(), []string{"exec", "--api-key", "sk_EXECexecEXECexecEXECexecEXECexec12", "--",
		os.Args[0], "-test.run=^TestExecParentIsNotDumpable$", "-test.count=1"}, ios, func(k string) string { return env[k] })
	if code != 0 {
		t.Fatalf("exec: exit %d: %s%s", code, out, errOut)
	}
	d, err := harden.Dumpable()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("report: parent=%v %s\n", d, strings.TrimSpace(out.String()))
}

// reportFromCommand is the command exec runs: it prints whether it is
// dumpable and who owns its parent's /proc/PID/status.
func reportFromCommand(t *testing.T) {
	d, err := harden.Dumpable()
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(fmt.Sprintf("/proc/%d/status", os.Getppid()))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("command=%v owner=%d\n", d, fi.Sys().(*syscall.Stat_t).Uid)
}
