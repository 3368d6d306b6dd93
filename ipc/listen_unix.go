//go:build unix

package ipc

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// umaskMu serialises this package's umask changes (umask is per process).
var umaskMu sync.Mutex

// Listen makes the daemon's socket at path safely, as ssh-agent and git's
// credential-cache do:
//
//   - the directory is created 0700 if missing, and refused unless it is a
//     real directory (not a symlink) owned by this user and not group- or
//     world-writable (or readable: nobody else may even list it);
//   - a lock file beside the socket makes one daemon per socket;
//   - an existing socket is dialled first: if someone answers, ErrAlreadyRunning
//     and the file is left alone; if nobody does, the stale file is removed;
//   - the socket is bound under umask 0177, so it never exists with a mode
//     wider than 0600.
//
// Closing the listener removes the socket only if it is still the file this
// call created, and releases the lock.
func Listen(path string) (net.Listener, error) {
	path = filepath.Clean(path)
	dir := filepath.Dir(path)
	if err := prepareDir(dir); err != nil {
		return nil, err
	}
	lock, err := lockSocket(path + ".lock")
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			lock.Close()
		}
	}()
	if err := clearStale(path); err != nil {
		return nil, err
	}
	umaskMu.Lock()
	old := unix.Umask(0o177)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	unix.Umask(old)
	umaskMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	l.SetUnlinkOnClose(false)
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm()&0o177 != 0 {
		l.Close()
		return nil, fmt.Errorf("the socket %s did not come out as a private socket (mode %v)", path, modeOf(fi))
	}
	ok = true
	return &listener{UnixListener: l, path: path, fi: fi, lock: lock}, nil
}

func modeOf(fi fs.FileInfo) any {
	if fi == nil {
		return "missing"
	}
	return fi.Mode()
}

// ErrAlreadyRunning: another daemon answers on the socket.
var ErrAlreadyRunning = errors.New("a torale-cred daemon is already running on this socket")

// ErrUnsafeDir is wrapped when the socket's directory could let another
// user near the socket.
var ErrUnsafeDir = errors.New("the socket's directory is not private")

func prepareDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating the socket directory: %w", err)
	}
	return CheckDir(dir)
}

// CheckDir refuses a socket directory another user could touch: it must be
// a real directory, owned by this user, with no group or other access.
func CheckDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("checking the socket directory: %w", err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%w: %s is a symbolic link; remove it or choose another --socket", ErrUnsafeDir, dir)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: %s is not a directory", ErrUnsafeDir, dir)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%w: cannot learn who owns %s", ErrUnsafeDir, dir)
	}
	if uid := uint32(os.Getuid()); st.Uid != uid {
		return fmt.Errorf("%w: %s belongs to user id %d, not to you (%d); choose another --socket", ErrUnsafeDir, dir, st.Uid, uid)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %v, open to other users; run: chmod 700 %s", ErrUnsafeDir, dir, fi.Mode().Perm(), dir)
	}
	return nil
}

// lockSocket takes the per-socket lock without waiting.
func lockSocket(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the socket lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			who := "another process"
			if b, rerr := os.ReadFile(path); rerr == nil {
				if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && pid > 0 {
					who = fmt.Sprintf("the daemon with pid %d (stop it, or give this one another --socket)", pid)
				}
			}
			return nil, fmt.Errorf("%w (%s is held by %s)", ErrAlreadyRunning, path, who)
		}
		return nil, fmt.Errorf("locking the socket: %w", err)
	}
	// The lock file names its holder, so a second daemon's refusal can.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// clearStale removes a socket file nobody answers on; anything else at the
// path is refused.
func clearStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking the socket path: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket; move it away or choose another --socket", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("%w (%s answers)", ErrAlreadyRunning, path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("checking whether a daemon answers on %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the stale socket %s: %w", path, err)
	}
	return nil
}

// listener removes only the socket it created, and holds the lock.
type listener struct {
	*net.UnixListener
	path string
	fi   fs.FileInfo
	lock *os.File
	once sync.Once
}

func (l *listener) Close() error {
	err := l.UnixListener.Close()
	l.once.Do(func() {
		if fi, serr := os.Lstat(l.path); serr == nil && os.SameFile(fi, l.fi) {
			_ = os.Remove(l.path)
		}
		// A clean stop leaves no lock file behind: removed while still
		// held, so no other daemon can be holding this one.
		_ = os.Remove(l.lock.Name())
		_ = l.lock.Close()
	})
	return err
}

// Path is the socket's path.
func (l *listener) Path() string { return l.path }
