// Package peer says who a process is, for the audit trail and the
// per-profile policy: its pid and user, its executable, its command name,
// the systemd unit it runs in, whether it runs in an SSH login, and whether
// it is an ssh client (a connection forwarded from another host). It is read
// once per socket connection (or once per command, for the process itself)
// and never holds anything secret.
package peer

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/torale-ai/torale-cred/internal/safetext"
)

// Caller is one process as the audit trail names it (SPEC: "caller").
type Caller struct {
	PID  int    `json:"pid"`
	UID  int    `json:"uid"`
	Exe  string `json:"exe"`
	Comm string `json:"comm"`
	Unit string `json:"unit"`
	// SSHLogin: the process runs in an SSH login (an sshd is on its
	// parent chain): a person at another machine typed into this one.
	SSHLogin bool `json:"ssh_login"`
	// Forwarded: the process is itself an ssh client, so what it sends
	// comes from another host through a forward (ssh -R / -L), not from
	// a program here.
	Forwarded bool `json:"forwarded,omitempty"`
	// OldSSH is the single "ssh" flag of lines written before the two
	// above were told apart (read, never written).
	OldSSH bool `json:"ssh,omitempty"`
	// Via is the torale-cred command this process asked through (token,
	// exec, git, ...), when the socket's peer was torale-cred itself and
	// this is the program behind it (Behind).
	Via string `json:"via,omitempty"`

	// PPID is the parent, when the OS tells it (Behind walks up by it).
	PPID int `json:"-"`
}

// Program is how a person reads the caller: the executable with its pid.
// The name is escaped (safetext): any program chooses its own path and
// command name, and this text goes to terminals and the desktop.
func (c *Caller) Program() string {
	name := c.Exe
	if name == "" {
		name = c.Comm
	}
	if name == "" {
		name = "unknown program"
	}
	s := safetext.Text(name, safetext.MaxName) + " (pid " + strconv.Itoa(c.PID) + ")"
	if base := filepath.Base(c.Exe); c.Comm != "" && c.Exe != "" &&
		!strings.HasPrefix(base, c.Comm) && !strings.HasPrefix(c.Comm, base) {
		// A script: its name is the comm, its executable the interpreter.
		s = safetext.Text(c.Comm, safetext.MaxName) + " (" + safetext.Text(c.Exe, safetext.MaxName) + ", pid " + strconv.Itoa(c.PID) + ")"
	}
	if c.Via != "" {
		s += " via torale-cred " + safetext.Text(c.Via, 16)
	}
	return s
}

// Behind is who a request from torale-cred's own program (c, the socket's
// peer) is for: its nearest ancestor that is not torale-cred, read from
// the OS, never from what the client says, with via naming the command.
// Where no such ancestor can be read, c itself with via.
func (id *Identifier) Behind(c *Caller, via string) *Caller {
	pid := c.PPID
	for range maxChain {
		if pid <= 1 {
			break
		}
		exe, ppid, ok := exeAndParent(pid)
		if !ok {
			break
		}
		if !ours()[exe] {
			a := id.Identify(pid, uint32(c.UID))
			a.Via = via
			return a
		}
		pid = ppid
	}
	cc := *c
	cc.Via = via
	return &cc
}

// StillRuns reports whether process c.PID still runs c.Exe: a peer that
// connected and then exec'd another program is no longer the caller that
// was identified.
func StillRuns(c *Caller) bool {
	if c.PID <= 0 || c.Exe == "" {
		return c.Exe == ""
	}
	exe, ok := exeOfPID(c.PID)
	return ok && exe == c.Exe
}

// Identify describes process pid of user uid. What cannot be read (the
// process has gone, another OS) stays empty: the caller is still named by
// its pid and uid, never guessed.
func Identify(pid int, uid uint32) *Caller { return (*Identifier)(nil).Identify(pid, uid) }

// Identifier identifies one server's callers, remembering which parent
// chains came in over SSH: a connection then reads its own process and its
// parent's, not every ancestor up to init. The zero value is ready; a nil
// one remembers nothing.
type Identifier struct {
	mu     sync.Mutex
	chains map[procKey]bool
	// units maps a cgroup (v2) id to its systemd unit: a cgroup's id is
	// never reused while the system runs, and its name never changes.
	units map[uint64]string
	// procOnly: every answer comes from /proc, as it must on a kernel
	// without PIDFD_GET_INFO (before Linux 6.13, Debian 12's 6.1 among
	// them). Set at the kernel's first refusal, so that no later
	// connection pays for asking again; tests set it to compare the ways.
	procOnly atomic.Bool
}

// procKey is one process for all its life: a pid is reused, a pid with its
// start time is not, nor its pidfs inode number (since Linux 6.9).
type procKey struct {
	pid   int
	id    uint64 // the start time, or the inode number when pidfs is set
	pidfs bool
}

// maxChains bounds what an Identifier remembers.
const maxChains = 1024

func (id *Identifier) lookup(k procKey) (ssh, ok bool) {
	if id == nil {
		return false, false
	}
	id.mu.Lock()
	defer id.mu.Unlock()
	ssh, ok = id.chains[k]
	return ssh, ok
}

func (id *Identifier) store(ks []procKey, ssh bool) {
	if id == nil || len(ks) == 0 {
		return
	}
	id.mu.Lock()
	defer id.mu.Unlock()
	if id.chains == nil || len(id.chains)+len(ks) > maxChains {
		id.chains = make(map[procKey]bool, len(ks))
	}
	for _, k := range ks {
		id.chains[k] = ssh
	}
}

func (id *Identifier) unit(cgroup uint64) (unit string, ok bool) {
	if id == nil {
		return "", false
	}
	id.mu.Lock()
	defer id.mu.Unlock()
	unit, ok = id.units[cgroup]
	return unit, ok
}

func (id *Identifier) storeUnit(cgroup uint64, unit string) {
	if id == nil {
		return
	}
	id.mu.Lock()
	defer id.mu.Unlock()
	if id.units == nil || len(id.units) >= maxChains {
		id.units = make(map[uint64]string)
	}
	id.units[cgroup] = unit
}

// Identify is the package's Identify, remembering parent chains in id.
func (id *Identifier) Identify(pid int, uid uint32) *Caller {
	c := &Caller{PID: pid, UID: int(uid)}
	if pid > 0 {
		identify(c, id)
	}
	return c
}

// Self is this process, identified once.
var Self = sync.OnceValue(func() *Caller { return Identify(os.Getpid(), uint32(os.Getuid())) })

type callerKey struct{}

// With puts the caller of a look-up into its context.
func With(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// From is the look-up's caller: the socket's peer, or this process itself
// when nothing else was said (a command that reads the keychain directly).
func From(ctx context.Context) *Caller {
	if c, ok := ctx.Value(callerKey{}).(*Caller); ok && c != nil {
		return c
	}
	return Self()
}

// ours are torale-cred's own executables: this one (as run and resolved)
// and the program's other name beside it, resolved once.
var ours = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	exe, err := os.Executable()
	if err != nil {
		return m
	}
	for _, p := range []string{exe, resolved(exe)} {
		m[p] = true
		for _, n := range []string{"torale-cred", "git-credential-torale"} {
			sib := filepath.Join(filepath.Dir(p), n)
			m[sib], m[resolved(sib)] = true, true
		}
	}
	return m
})

func resolved(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

// Ours reports whether c runs one of torale-cred's own executables (this
// one, or its other name beside it): a request from those is judged for
// the program behind it (Behind), and only those may name the door.
func (c *Caller) Ours() bool { return c.Exe != "" && ours()[c.Exe] }

// unitOf picks the systemd unit from /proc/PID/cgroup's text: the deepest
// .service or .scope of the unified (v2) hierarchy, else of v1's
// name=systemd one. "" when the process is in none. fromV2 says the
// answer is the v2 cgroup's own, so the cgroup's id may stand for it.
func unitOf(cgroup string) (unit string, fromV2 bool) {
	var v2, v1 string
	for _, line := range strings.Split(cgroup, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			v2 = parts[2]
		case parts[1] == "name=systemd":
			v1 = parts[2]
		}
	}
	path, fromV2 := v2, true
	if path == "" || path == "/" {
		path, fromV2 = v1, v1 == ""
	}
	elems := strings.Split(path, "/")
	for i := len(elems) - 1; i >= 0; i-- {
		e := elems[i]
		if strings.HasSuffix(e, ".service") || strings.HasSuffix(e, ".scope") {
			return e, fromV2
		}
	}
	return "", fromV2
}

// OverSSH reports whether the caller has anything to do with SSH: in an
// SSH login, an ssh client's forward, or a line from before the split.
func (c *Caller) OverSSH() bool { return c.SSHLogin || c.Forwarded || c.OldSSH }

// isSSHD: a process name that means the chain came in over an SSH login
// (OpenSSH's server, or its per-session processes since 9.8).
func isSSHD(comm string) bool {
	switch comm {
	case "sshd", "sshd-session", "sshd-auth":
		return true
	}
	return false
}

// IsSSHClient: a process name that is OpenSSH's client, whose connections
// to a socket are another host's (ssh -R), forwarded.
func IsSSHClient(comm string) bool { return comm == "ssh" }

// maxChain bounds the walk up the parent chain.
const maxChain = 64
