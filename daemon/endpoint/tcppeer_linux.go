//go:build linux

package endpoint

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// peerSupported: this OS tells a TCP peer's user and process.
const peerSupported = true

// errNoSocket: the kernel's table has no such connection (it closed).
var errNoSocket = errors.New("the connection is not in the kernel's TCP table")

// tcpPeer is who holds the other end of a loopback TCP connection whose
// own end is local and whose peer's is remote: the socket's user id from
// /proc/net/tcp (tcp6 for an IPv6 address), then the process holding that
// socket, found as `ss -p` finds it: the /proc/PID/fd link that reads
// "socket:[INODE]". pid is 0 when no process of that user could be seen
// holding it (another PID namespace); the uid is the kernel's all the same.
func (f *pidFinder) tcpPeer(local, remote *net.TCPAddr) (uid uint32, pid int, err error) {
	uid, inode, err := socketOf(remote, local)
	if err != nil {
		return 0, 0, err
	}
	return uid, f.find(uid, inode), nil
}

// socketOf finds the socket bound to from and connected to to in the
// kernel's table: its owner's uid and its inode.
func socketOf(from, to *net.TCPAddr) (uint32, uint64, error) {
	files := []string{"/proc/net/tcp", "/proc/net/tcp6"}
	if from.IP.To4() == nil {
		files = files[1:]
	}
	for _, name := range files {
		uid, inode, err := scanTable(name, from, to)
		if err == nil {
			return uid, inode, nil
		}
		if !errors.Is(err, errNoSocket) {
			return 0, 0, err
		}
	}
	return 0, 0, errNoSocket
}

// scanTable reads one of /proc/net/tcp{,6}: lines of "sl local_address
// rem_address st tx:rx tr:when retrnsmt uid timeout inode ...", each
// address the kernel's words in hex and the port in hex.
func scanTable(name string, from, to *net.TCPAddr) (uint32, uint64, error) {
	six := strings.HasSuffix(name, "6")
	wantFrom, wantTo := hexAddr(from, six), hexAddr(to, six)
	if wantFrom == "" || wantTo == "" {
		return 0, 0, errNoSocket
	}
	f, err := os.Open(name)
	if err != nil {
		return 0, 0, fmt.Errorf("reading the kernel's TCP table: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 512), 4096)
	for sc.Scan() {
		fields := bytes.Fields(sc.Bytes())
		if len(fields) < 10 || !bytes.EqualFold(fields[1], []byte(wantFrom)) || !bytes.EqualFold(fields[2], []byte(wantTo)) {
			continue
		}
		uid, err1 := strconv.ParseUint(string(fields[7]), 10, 32)
		inode, err2 := strconv.ParseUint(string(fields[9]), 10, 64)
		if err1 != nil || err2 != nil || inode == 0 {
			continue
		}
		return uint32(uid), inode, nil
	}
	if err := sc.Err(); err != nil {
		return 0, 0, fmt.Errorf("reading the kernel's TCP table: %w", err)
	}
	return 0, 0, errNoSocket
}

// hexAddr is a's address and port as /proc/net/tcp{,6} print them: each
// 32-bit word of the address in the machine's byte order, in hex, then the
// port. An IPv4 address in tcp6 is its v4-mapped form.
func hexAddr(a *net.TCPAddr, six bool) string {
	ip := a.IP.To4()
	if six {
		ip = a.IP.To16()
	}
	if ip == nil {
		return ""
	}
	var b strings.Builder
	for i := 0; i < len(ip); i += 4 {
		fmt.Fprintf(&b, "%08X", binary.NativeEndian.Uint32(ip[i:i+4]))
	}
	fmt.Fprintf(&b, ":%04X", a.Port)
	return b.String()
}

// pidFinder finds the process holding a socket, remembering the last few
// processes found: a client that connects again is usually the same one,
// so it is looked at first and the full scan of /proc is skipped.
type pidFinder struct {
	mu     sync.Mutex
	recent []int
}

const maxRecent = 8

func (f *pidFinder) find(uid uint32, inode uint64) int {
	want := "socket:[" + strconv.FormatUint(inode, 10) + "]"
	f.mu.Lock()
	recent := append([]int(nil), f.recent...)
	f.mu.Unlock()
	for _, pid := range recent {
		if holds(pid, uid, want) {
			f.remember(pid)
			return pid
		}
	}
	d, err := os.Open("/proc")
	if err != nil {
		return 0
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return 0
	}
	self := os.Getpid()
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil || pid == self {
			continue
		}
		if holds(pid, uid, want) {
			f.remember(pid)
			return pid
		}
	}
	return 0
}

func (f *pidFinder) remember(pid int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []int{pid}
	for _, p := range f.recent {
		if p != pid && len(out) < maxRecent {
			out = append(out, p)
		}
	}
	f.recent = out
}

// holds reports whether process pid, of user uid, has a descriptor that
// links to want ("socket:[INODE]"). Another user's process is not looked
// into (nor could it be, but root's daemon must not name it).
func holds(pid int, uid uint32, want string) bool {
	dir := "/proc/" + strconv.Itoa(pid)
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil || st.Uid != uid {
		return false
	}
	fd, err := os.Open(dir + "/fd")
	if err != nil {
		return false
	}
	defer fd.Close()
	names, err := fd.Readdirnames(-1)
	if err != nil {
		return false
	}
	for _, n := range names {
		if l, err := os.Readlink(dir + "/fd/" + n); err == nil && l == want {
			return true
		}
	}
	return false
}
