//go:build linux

package remote

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/torale-ai/torale-cred/internal/peer"
)

// supported: this OS lets the daemon watch the ssh client.
const supported = true

// procWatch follows one process through a pidfd: exited closes when it
// ends (seen at once, whoever its parent is), and a reused pid can never
// stand for it.
type procWatch struct {
	pid int
	fd  int
	// ourComm is the process's name when it was first watched, if it ran
	// torale-cred's own program then (torale-cred ssh, about to exec ssh).
	ourComm string
	exited  chan struct{}
	done    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

func watchProcess(pid int) (*procWatch, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, fmt.Errorf("pidfd_open: %w", err)
	}
	w := &procWatch{pid: pid, fd: fd, exited: make(chan struct{}), done: make(chan struct{})}
	dir := "/proc/" + strconv.Itoa(pid) + "/"
	if exe, err := os.Readlink(dir + "exe"); err == nil && (&peer.Caller{Exe: exe}).Ours() {
		if comm, err := os.ReadFile(dir + "comm"); err == nil && unix.PidfdSendSignal(fd, 0, nil, 0) == nil {
			w.ourComm = strings.TrimSuffix(string(comm), "\n")
		}
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			select {
			case <-w.done:
				return
			default:
			}
			n, err := unix.Poll(fds, 500)
			if err != nil && !errors.Is(err, unix.EINTR) {
				close(w.exited) // cannot watch it: end the session rather than outlive its client
				return
			}
			if n > 0 {
				close(w.exited)
				return
			}
		}
	}()
	return w, nil
}

func (w *procWatch) close() {
	w.once.Do(func() {
		close(w.done)
		w.wg.Wait()
		unix.Close(w.fd)
	})
}

type procState int

const (
	procPending procState = iota // still torale-cred ssh, about to exec ssh
	procSSH                      // ssh, with the session's arguments
	procOther                    // anything else: the session must end
)

// state reads what the process runs now, from /proc, checked against the
// pidfd afterwards so that a reused pid is never read as it.
func (w *procWatch) state(args []string) procState {
	dir := "/proc/" + strconv.Itoa(w.pid) + "/"
	exe, err := os.Readlink(dir + "exe")
	if err != nil {
		return procPending
	}
	exe = strings.TrimSuffix(exe, " (deleted)")
	comm, err1 := os.ReadFile(dir + "comm")
	cmdline, err2 := os.ReadFile(dir + "cmdline")
	if err1 != nil || err2 != nil || unix.PidfdSendSignal(w.fd, 0, nil, 0) != nil {
		return procPending
	}
	if (&peer.Caller{Exe: exe}).Ours() {
		return procPending
	}
	name := strings.TrimSuffix(string(comm), "\n")
	// An exec in progress: the kernel switches exe and the memory that
	// cmdline is read from first, then the name, and puts the arguments
	// in place last (cmdline reads empty until then). Read inside that
	// window, ssh is neither ssh nor another program yet.
	if len(cmdline) == 0 || (w.ourComm != "" && name == w.ourComm) {
		return procPending
	}
	argv := strings.Split(string(bytes.TrimSuffix(cmdline, []byte{0})), "\x00")
	if peer.IsSSHClient(name) && len(argv) > 0 && slices.Equal(argv[1:], args) {
		return procSSH
	}
	return procOther
}
