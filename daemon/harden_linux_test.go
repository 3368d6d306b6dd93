//go:build linux

package daemon

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestHardenMakesTheProcessUndumpable(t *testing.T) {
	if errs := harden(); len(errs) > 0 {
		t.Fatal(errs)
	}
	d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	if err != nil || d != 0 {
		t.Fatalf("PR_GET_DUMPABLE = %d, %v", d, err)
	}
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_CORE, &rl); err != nil || rl.Cur != 0 || rl.Max != 0 {
		t.Fatalf("RLIMIT_CORE = %+v, %v", rl, err)
	}
}
