//go:build darwin

package peer

import (
	"bytes"

	"golang.org/x/sys/unix"
)

// identify asks the kernel through sysctl: kern.procargs2 begins with the
// executable's path; kern.proc.pid holds the name and the parent. macOS
// has no systemd unit.
func identify(c *Caller, _ *Identifier) {
	if b, err := unix.SysctlRaw("kern.procargs2", c.PID); err == nil && len(b) > 4 {
		if i := bytes.IndexByte(b[4:], 0); i > 0 {
			c.Exe = string(b[4 : 4+i])
		}
	}
	ppid, comm, ok := kinfo(c.PID)
	if !ok {
		return
	}
	c.Comm, c.PPID = comm, ppid
	c.Forwarded = IsSSHClient(comm)
	for range maxChain {
		if isSSHD(comm) {
			c.SSHLogin = true
			return
		}
		if ppid <= 1 {
			return
		}
		if ppid, comm, ok = kinfo(ppid); !ok {
			return
		}
	}
}

func kinfo(pid int) (int, string, bool) {
	k, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil || k.Proc.P_pid == 0 {
		return 0, "", false
	}
	name := k.Proc.P_comm[:]
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	return int(k.Eproc.Ppid), string(name), true
}

// exeAndParent is process pid's executable and parent.
func exeAndParent(pid int) (exe string, ppid int, ok bool) {
	b, err := unix.SysctlRaw("kern.procargs2", pid)
	if err != nil || len(b) <= 4 {
		return "", 0, false
	}
	if i := bytes.IndexByte(b[4:], 0); i > 0 {
		exe = string(b[4 : 4+i])
	}
	ppid, _, ok = kinfo(pid)
	return exe, ppid, ok && exe != ""
}

// exeOfPID is process pid's executable.
func exeOfPID(pid int) (string, bool) {
	exe, _, ok := exeAndParent(pid)
	return exe, ok
}
