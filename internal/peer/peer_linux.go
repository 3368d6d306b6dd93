//go:build linux

package peer

import (
	"bytes"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// identify names process c.PID: through a pidfd where the kernel tells a
// process's parent and cgroup in one call (Linux 6.13), else from /proc's
// stat through a descriptor of /proc/PID.
func identify(c *Caller, id *Identifier) {
	if id == nil || !id.procOnly.Load() {
		if identifyPidfd(c, id) {
			return
		}
	}
	identifyProc(c, id)
}

// identifyPidfd is identify through a pidfd: its parent and cgroup id come
// from PIDFD_GET_INFO, the unit from what id remembers of that cgroup, and
// /proc is read only for the executable and the name. Those reads name the
// process only if it is still alive afterwards (its pid cannot have been
// reused meanwhile), so the answer is checked last. False when the kernel
// cannot answer this way.
func identifyPidfd(c *Caller, id *Identifier) bool {
	fd, err := unix.PidfdOpen(c.PID, 0)
	if err != nil {
		id.refused(err)
		return err == unix.ESRCH // gone: /proc has nothing either
	}
	defer unix.Close(fd)
	info := unix.PidfdInfo{Mask: unix.PIDFD_INFO_CGROUPID}
	if err := unix.IoctlPidfdInfo(fd, &info); err != nil {
		id.refused(err)
		return err == unix.ESRCH
	}
	proc := "/proc/" + strconv.Itoa(c.PID)
	var got Caller
	got.Exe = exeOf(unix.AT_FDCWD, proc+"/")
	comm, ok := commOf(c.PID)
	if !ok {
		return true
	}
	got.Comm = comm
	hasID := info.Mask&unix.PIDFD_INFO_CGROUPID != 0
	unit, known := id.unit(info.Cgroupid)
	fromV2 := false
	if !hasID || !known {
		b, err := readFile(unix.AT_FDCWD, proc+"/cgroup", 8<<10)
		if err != nil {
			return true
		}
		unit, fromV2 = unitOf(string(b))
	}
	if !alive(fd) {
		return true
	}
	// Remembered only now: a cgroup file read from a reused pid must not
	// stand for this process's cgroup from then on.
	if hasID && !known && fromV2 {
		id.storeUnit(info.Cgroupid, unit)
	}
	c.Exe, c.Comm, c.Unit, c.PPID = got.Exe, got.Comm, unit, int(info.Ppid)
	c.Forwarded = IsSSHClient(got.Comm)
	c.SSHLogin = isSSHD(got.Comm) || sshAbove(int(info.Ppid), id, pidfdLineage{})
	return true
}

// refused remembers in id a kernel that cannot answer through a pidfd: no
// pidfd_open (ENOSYS) or no PIDFD_GET_INFO (ENOTTY; EINVAL for a size it
// does not know). A passing failure (EMFILE, ESRCH) is not remembered.
func (id *Identifier) refused(err error) {
	if id != nil && (err == unix.ENOSYS || err == unix.ENOTTY || err == unix.EINVAL) {
		id.procOnly.Store(true)
	}
}

// commOf is /proc/PID/comm: the name stat also holds, without formatting
// the rest of stat.
func commOf(pid int) (string, bool) {
	b, err := readFile(unix.AT_FDCWD, "/proc/"+strconv.Itoa(pid)+"/comm", 64)
	if err != nil {
		return "", false
	}
	return strings.TrimSuffix(string(b), "\n"), true
}

// alive: the pidfd's process has not ended (a zombie still holds its pid).
func alive(pidfd int) bool {
	return unix.PidfdSendSignal(pidfd, 0, nil, 0) == nil
}

// identifyProc is identify from /proc/PID/stat, read through a descriptor
// of the directory: once it is open, a read answers for that process or
// fails (ESRCH) when it has gone, so a reused pid is never described as
// the caller.
func identifyProc(c *Caller, id *Identifier) {
	dir, err := unix.Open("/proc/"+strconv.Itoa(c.PID), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(dir)
	c.Exe = exeOf(dir, "")
	// stat holds the command name (as /proc/PID/comm) and the parent.
	ppid, comm, _, ok := stat(dir)
	if !ok {
		return
	}
	c.Comm, c.PPID = comm, ppid
	if b, err := readFile(dir, "cgroup", 8<<10); err == nil {
		c.Unit, _ = unitOf(string(b))
	}
	c.Forwarded = IsSSHClient(comm)
	c.SSHLogin = isSSHD(comm) || sshAbove(ppid, id, statLineage{})
}

// exeOf is the executable at prefix+"exe" relative to dir.
func exeOf(dir int, prefix string) string {
	link, err := readlinkat(dir, prefix+"exe")
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(link, " (deleted)")
}

// exeOfPID is process pid's executable: one readlink, as every request on
// a connection checks it again.
func exeOfPID(pid int) (string, bool) {
	exe := exeOf(unix.AT_FDCWD, "/proc/"+strconv.Itoa(pid)+"/")
	return exe, exe != ""
}

// exeAndParent is process pid's executable and parent, read through one
// descriptor of /proc/PID so both are that process's.
func exeAndParent(pid int) (exe string, ppid int, ok bool) {
	dir, err := unix.Open("/proc/"+strconv.Itoa(pid), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", 0, false
	}
	defer unix.Close(dir)
	exe = exeOf(dir, "")
	ppid, _, _, ok = stat(dir)
	return exe, ppid, ok && exe != ""
}

// lineage is how a walk up the parents learns each one: its key first,
// which is all a remembered chain needs, then its parent and name.
type lineage interface {
	key(pid int) (procKey, bool)
	// up is pid's parent and name, if pid is still the process k names.
	up(pid int, k procKey) (ppid int, comm string, ok bool)
}

// sshAbove walks the parents from pid up, stopping at a chain id already
// knows; what it learns it remembers for every process it passed.
func sshAbove(pid int, id *Identifier, l lineage) bool {
	var passed []procKey
	ssh := false
	for range maxChain {
		if pid <= 1 {
			break
		}
		k, ok := l.key(pid)
		if !ok {
			break
		}
		if v, hit := id.lookup(k); hit {
			ssh = v
			break
		}
		ppid, comm, ok := l.up(pid, k)
		if !ok {
			break
		}
		passed = append(passed, k)
		if isSSHD(comm) {
			ssh = true
			break
		}
		pid = ppid
	}
	id.store(passed, ssh)
	return ssh
}

// statLineage reads /proc/PID/stat: a process is its pid and start time.
type statLineage struct{}

func (statLineage) key(pid int) (procKey, bool) {
	_, _, start, ok := statOf(pid)
	return procKey{pid: pid, id: start}, ok
}

func (statLineage) up(pid int, k procKey) (int, string, bool) {
	ppid, comm, start, ok := statOf(pid)
	return ppid, comm, ok && start == k.id
}

// pidfdLineage asks a pidfd: a process is its pid and pidfs inode number,
// which three cheap calls learn where /proc/PID/stat is formatted whole.
type pidfdLineage struct{}

func (pidfdLineage) key(pid int) (procKey, bool) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return procKey{}, false
	}
	defer unix.Close(fd)
	ino, ok := pidfsInode(fd)
	return procKey{pid: pid, id: ino, pidfs: true}, ok
}

func (pidfdLineage) up(pid int, k procKey) (int, string, bool) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return 0, "", false
	}
	defer unix.Close(fd)
	var info unix.PidfdInfo
	if ino, ok := pidfsInode(fd); !ok || ino != k.id || unix.IoctlPidfdInfo(fd, &info) != nil {
		return 0, "", false
	}
	comm, ok := commOf(pid)
	if !ok || !alive(fd) {
		return 0, "", false
	}
	return int(info.Ppid), comm, true
}

// pidfsInode is the pidfd's inode number: on pidfs (every kernel with
// PIDFD_GET_INFO) one process's for all time.
func pidfsInode(fd int) (uint64, bool) {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return 0, false
	}
	return st.Ino, true
}

func statOf(pid int) (ppid int, comm string, start uint64, ok bool) {
	b, err := readFile(unix.AT_FDCWD, "/proc/"+strconv.Itoa(pid)+"/stat", 1024)
	if err != nil {
		return 0, "", 0, false
	}
	return parseStat(b)
}

// stat is /proc/PID/stat's parent pid, command name and start time. The
// name is in parentheses and may itself hold ") ", so it ends at the last
// ')'.
func stat(dir int) (ppid int, comm string, start uint64, ok bool) {
	b, err := readFile(dir, "stat", 1024)
	if err != nil {
		return 0, "", 0, false
	}
	return parseStat(b)
}

func parseStat(b []byte) (ppid int, comm string, start uint64, ok bool) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return 0, "", 0, false
	}
	f := strings.Fields(string(b[end+1:]))
	// f[0] is field 3 (state): the parent is field 4, the start time 22.
	if len(f) < 20 {
		return 0, "", 0, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	start, err2 := strconv.ParseUint(f[19], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, "", 0, false
	}
	return ppid, string(b[open+1 : end]), start, true
}

// readFile reads at most limit bytes of name (relative to dir) with plain
// system calls: /proc files are read once and closed, and an os.File's
// bookkeeping (a finalizer each) is a large part of a connection's cost.
func readFile(dir int, name string, limit int) ([]byte, error) {
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	buf := make([]byte, limit)
	for {
		n, err := unix.Read(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}

// readlinkat reads a link into a buffer on the stack: the daemon reads a
// peer's exe link at every request (StillRuns), and a 4 KiB buffer on the
// heap each time was most of a look-up's garbage. A path that fills the
// small buffer is read again into one of PATH_MAX.
func readlinkat(dir int, name string) (string, error) {
	var small [256]byte
	buf := small[:]
	for {
		n, err := unix.Readlinkat(dir, name, buf)
		if err != nil {
			return "", err
		}
		if n < len(buf) || len(buf) >= unix.PathMax {
			return string(buf[:n]), nil
		}
		buf = make([]byte, unix.PathMax)
	}
}
