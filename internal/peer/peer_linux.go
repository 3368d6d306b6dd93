//go:build linux

package peer

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/torale-ai/torale-cred/internal/progs"
)

// identify reads /proc/PID through a descriptor of the directory: once it
// is open, a read answers for that process or fails (ESRCH) when it has
// gone, so a reused pid is never described as the caller.
func identify(c *Caller) {
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
	if b, err := readAt(dir, "comm", 64); err == nil {
		c.Comm = string(bytes.TrimRight(b, "\n"))
	}
	if b, err := readAt(dir, "cgroup", 8<<10); err == nil {
		c.Unit = unitOf(string(b))
	}
	c.SSH = sshChain(dir)
}

// sshChain walks the parents from the process in dir (itself included).
func sshChain(dir int) bool {
	ppid, comm, ok := stat(dir)
	for range maxChain {
		if !ok {
			return false
		}
		if isSSH(comm) {
			return true
		}
		if ppid <= 1 {
			return false
		}
		ppid, comm, ok = statOf(ppid)
	}
	return false
}

func statOf(pid int) (int, string, bool) {
	dir, err := unix.Open("/proc/"+strconv.Itoa(pid), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, "", false
	}
	defer unix.Close(dir)
	return stat(dir)
}

// stat is /proc/PID/stat's parent pid and command name. The name is in
// parentheses and may itself hold ") ", so it ends at the last ')'.
func stat(dir int) (ppid int, comm string, ok bool) {
	b, err := readAt(dir, "stat", 4<<10)
	if err != nil {
		return 0, "", false
	}
	return parseStat(b)
}

func parseStat(b []byte) (ppid int, comm string, ok bool) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return 0, "", false
	}
	comm = string(b[open+1 : end])
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 2 {
		return 0, "", false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, comm, err == nil
}

func readAt(dir int, name string, limit int) ([]byte, error) {
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	buf := make([]byte, limit)
	n, err := f.Read(buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

func readlinkat(dir int, name string) (string, error) {
	buf := make([]byte, 4096)
	n, err := unix.Readlinkat(dir, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
