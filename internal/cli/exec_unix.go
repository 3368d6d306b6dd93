//go:build unix

package cli

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// forwardedSignals are the signals exec passes on to its command.
var forwardedSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// shouldForward decides whether a caught signal is passed on. SIGINT and
// SIGQUIT typed at the terminal already reach the command, which shares our
// process group: passing them on again would deliver them twice (a Python
// REPL would print KeyboardInterrupt twice). So those two are passed on
// only when our process group is not the terminal's foreground group,
// which is when they came from kill(1) or a supervisor.
func shouldForward(s os.Signal) bool {
	if s != syscall.SIGINT && s != syscall.SIGQUIT {
		return true
	}
	tty, err := os.Open("/dev/tty")
	if err != nil { // no controlling terminal: the signal was sent to us alone
		return true
	}
	defer tty.Close()
	fg, err := unix.IoctlGetInt(int(tty.Fd()), unix.TIOCGPGRP)
	if err != nil {
		return true
	}
	return fg != unix.Getpgrp()
}

// exitStatus is the command's exit code, or 128+N when signal N ended it,
// as shells report it.
func exitStatus(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// envNameIs compares environment variable names (case-sensitive here).
func envNameIs(a, b string) bool { return a == b }
