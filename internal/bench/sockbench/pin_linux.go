package sockbench

import (
	"fmt"
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// On a VM a wake-up that crosses CPUs costs tens of microseconds more than
// one that stays (measured here: a Unix-socket echo round trip takes 13 µs
// with client and server on one CPU, 52 µs on two), and which one a run
// gets is the scheduler's whim, sticky for thousands of round trips. The
// latency figures pin every party to one CPU so their ratios compare work,
// not placement.

// PinProcess sets the CPU affinity of every thread of pid to cpus (as
// `taskset -a -p`); nil cpus means every CPU of this machine.
func PinProcess(pid int, cpus []int) error {
	set := cpuSet(cpus)
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil {
			return fmt.Errorf("pinning thread %d of %d: %w", tid, pid, err)
		}
	}
	return nil
}

// PinThisThread locks the calling goroutine to its thread and sets that
// thread's affinity to cpus; the returned func undoes both.
func PinThisThread(cpus []int) (func(), error) {
	runtime.LockOSThread()
	var old unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	set := cpuSet(cpus)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	return func() {
		_ = unix.SchedSetaffinity(0, &old)
		runtime.UnlockOSThread()
	}, nil
}

func cpuSet(cpus []int) unix.CPUSet {
	var set unix.CPUSet
	if cpus == nil {
		for i := range runtime.NumCPU() {
			set.Set(i)
		}
		return set
	}
	for _, c := range cpus {
		set.Set(c)
	}
	return set
}
