//go:build linux

package peer

import (
	"bytes"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/torale-ai/torale-cred/internal/progs"
)

// identify reads /proc/PID through a descriptor of the directory: once it
// is open, a read answers for that process or fails (ESRCH) when it has
// gone, so a reused pid is never described as the caller.
func identify(c *Caller, id *Identifier) {
	dir, err := unix.Open("/proc/"+strconv.Itoa(c.PID), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(dir)
	if exe, err := readlinkat(dir, "exe"); err == nil {
		c.Exe = strings.TrimSuffix(exe, " (deleted)")
		if filepath.Base(c.Exe) == progs.CLI {
			if b, err := readAt(dir, "cmdline", 4096); err == nil {
				c.argv0, _, _ = strings.Cut(string(b), "\x00")
			}
		}
	}
	// stat holds the command name (as /proc/PID/comm) and the parent.
	ppid, comm, _, ok := stat(dir)
	if !ok {
		return
	}
	c.Comm = comm
	if b, err := readAt(dir, "cgroup", 8<<10); err == nil {
		c.Unit = unitOf(string(b))
	}
	c.SSH = isSSH(comm) || sshAbove(ppid, id)
}

// sshAbove walks the parents from pid up, stopping at a chain id already
// knows; what it learns it remembers for every process it passed.
func sshAbove(pid int, id *Identifier) bool {
	var passed []procKey
	ssh := false
	for range maxChain {
		if pid <= 1 {
			break
		}
		ppid, comm, start, ok := statOf(pid)
		if !ok {
			break
		}
		k := procKey{pid, start}
		if v, hit := id.lookup(k); hit {
			ssh = v
			break
		}
		passed = append(passed, k)
		if isSSH(comm) {
			ssh = true
			break
		}
		pid = ppid
	}
	id.store(passed, ssh)
	return ssh
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
	b, err := readAt(dir, "stat", 1024)
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

func readAt(dir int, name string, limit int) ([]byte, error) {
	return readFile(dir, name, limit)
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

func readlinkat(dir int, name string) (string, error) {
	buf := make([]byte, 4096)
	n, err := unix.Readlinkat(dir, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
