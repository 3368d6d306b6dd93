package sockbench

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is Linux's USER_HZ, the unit of utime and stime in
// /proc/PID/stat (100 on every architecture Go supports).
const clockTick = 10 * time.Millisecond

// ProcStat is a process's CPU use and scheduling counters as Linux's /proc
// shows them, summed over all its threads (/proc/PID/status alone counts
// the main thread's context switches only).
type ProcStat struct {
	Threads int
	// CPU is utime+stime from /proc/PID/stat (10 ms resolution).
	CPU time.Duration
	// OnCPU is the time on a CPU from each thread's schedstat (ns
	// resolution); 0 when the kernel has no schedstat.
	OnCPU time.Duration
	// Voluntary context switches: each is a thread going to sleep, so the
	// count of wake-ups that followed.
	Voluntary int64
	// Involuntary context switches: a running thread preempted.
	Involuntary int64
}

// Sub is the change from an earlier sample.
func (p ProcStat) Sub(q ProcStat) ProcStat {
	return ProcStat{Threads: p.Threads, CPU: p.CPU - q.CPU, OnCPU: p.OnCPU - q.OnCPU,
		Voluntary: p.Voluntary - q.Voluntary, Involuntary: p.Involuntary - q.Involuntary}
}

// ReadProcStat samples pid (Linux only). Threads that exited between two
// samples take their counts with them; a Go process's threads rarely exit.
func ReadProcStat(pid int) (ProcStat, error) {
	var s ProcStat
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// The command name may hold spaces; fields resume after the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return s, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return s, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return s, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	s.CPU = time.Duration(ut+st) * clockTick
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	if err != nil {
		return s, err
	}
	for _, t := range tasks {
		st, err := os.ReadFile(filepath.Join(t, "status"))
		if err != nil {
			continue // the thread exited
		}
		s.Threads++
		for _, line := range strings.Split(string(st), "\n") {
			if v, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				s.Voluntary += n
			} else if v, ok := strings.CutPrefix(line, "nonvoluntary_ctxt_switches:"); ok {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				s.Involuntary += n
			}
		}
		if ss, err := os.ReadFile(filepath.Join(t, "schedstat")); err == nil {
			if f := strings.Fields(string(ss)); len(f) > 0 {
				ns, _ := strconv.ParseInt(f[0], 10, 64)
				s.OnCPU += time.Duration(ns)
			}
		}
	}
	if s.Threads == 0 {
		return s, fmt.Errorf("/proc/%d/task: no threads readable", pid)
	}
	return s, nil
}
