//go:build linux

package ipc_test

import (
	"bytes"
	"errors"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/ipc"
)

func TestListenMakesAPrivateSocket(t *testing.T) {
	base := shortDir(t)
	sock := filepath.Join(base, "torale", "cred.sock")
	l, err := ipc.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	dfi, _ := os.Lstat(filepath.Dir(sock))
	sfi, _ := os.Lstat(sock)
	if dfi.Mode().Perm() != 0o700 || sfi.Mode().Type() != fs.ModeSocket || sfi.Mode().Perm() != 0o600 {
		t.Fatalf("dir %v, socket %v", dfi.Mode(), sfi.Mode())
	}

	// A second Listen refuses and leaves the first alone.
	if _, err := ipc.Listen(sock); !errors.Is(err, ipc.ErrAlreadyRunning) {
		t.Fatalf("second listen: %v", err)
	}
	if fi, err := os.Lstat(sock); err != nil || !os.SameFile(fi, sfi) {
		t.Fatal("the second listen touched the first socket")
	}
	// Closing removes the socket it created.
	l.Close()
	if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("socket left behind: %v", err)
	}
}

func TestListenReplacesAStaleSocket(t *testing.T) {
	sock := filepath.Join(shortDir(t), "torale", "cred.sock")
	if err := os.MkdirAll(filepath.Dir(sock), 0o700); err != nil {
		t.Fatal(err)
	}
	// A crashed daemon's socket: the file stays, nobody accepts.
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ul.SetUnlinkOnClose(false)
	ul.Close()
	if _, err := os.Lstat(sock); err != nil {
		t.Fatal(err)
	}
	l, err := ipc.Listen(sock)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	defer l.Close()

	// Someone else answering (not holding our lock) is left alone too.
	other := filepath.Join(filepath.Dir(sock), "other.sock")
	ol, err := net.Listen("unix", other)
	if err != nil {
		t.Fatal(err)
	}
	defer ol.Close()
	if _, err := ipc.Listen(other); !errors.Is(err, ipc.ErrAlreadyRunning) {
		t.Fatalf("live socket: %v", err)
	}
	if _, err := os.Lstat(other); err != nil {
		t.Fatal("a live socket was removed")
	}
}

func TestListenRefusesUnsafePlaces(t *testing.T) {
	base := shortDir(t)
	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chmod(open, 0o755)
	real := filepath.Join(base, "real")
	os.Mkdir(real, 0o700)
	link := filepath.Join(base, "link")
	os.Symlink(real, link)
	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o600)
	notSock := filepath.Join(real, "cred.sock")
	os.WriteFile(notSock, []byte("x"), 0o600)

	cases := map[string]string{
		"group/world readable dir": filepath.Join(open, "cred.sock"),
		"symlinked dir":            filepath.Join(link, "cred.sock"),
		"not a directory":          filepath.Join(file, "cred.sock"),
		"not a socket":             notSock,
	}
	if os.Getuid() == 0 {
		theirs := filepath.Join(base, "theirs")
		os.Mkdir(theirs, 0o700)
		if err := os.Chown(theirs, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		cases["another user's dir"] = filepath.Join(theirs, "cred.sock")
	}
	for name, p := range cases {
		if l, err := ipc.Listen(p); err == nil {
			l.Close()
			t.Errorf("%s: Listen(%s) succeeded", name, p)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	if b, _ := os.ReadFile(notSock); string(b) != "x" {
		t.Error("a file at the socket path was touched")
	}
	if fi, _ := os.Stat(open); fi.Mode().Perm() != 0o755 {
		t.Error("an unsafe directory's mode was changed")
	}
}

// TestPeerOfAnotherUserIsRefused runs curl as nobody against a socket
// opened up to everyone: the peer check alone must refuse it.
func TestPeerOfAnotherUserIsRefused(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a client as another user (make test runs as root in CI)")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv not installed")
	}
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	fb := newFake(map[string]string{"default": testKey})
	logs := &lockedWriter{w: &bytes.Buffer{}}
	sock, _ := serve(t, fb, ipc.Options{Logger: logger(logs)})
	// Open every directory on the way and the socket itself.
	for d := filepath.Dir(sock); d != "/" && d != "/tmp"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out, err := exec.Command(setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups",
		curl, "-sS", "--max-time", "60", "--unix-socket", sock, "-X", "POST", "-d", "{}", "http://torale/v1/resolve").CombinedOutput()
	if err == nil || strings.Contains(string(out), "status") || strings.Contains(string(out), testKey) {
		t.Fatalf("nobody was answered: %v %s", err, out)
	}
	// Closed at once, not left to curl's 60 s: half of it tells the two
	// apart on any machine.
	if time.Since(start) > 30*time.Second {
		t.Errorf("refusal took %s; it should be immediate", time.Since(start))
	}
	t.Logf("curl as nobody: %v: %s", err, strings.TrimSpace(string(out)))
	// The log proves the connection reached the server (not refused by the
	// file mode): the peer check closed it.
	if !strings.Contains(logs.String(), "refused a connection from another user") || !strings.Contains(logs.String(), "peer_uid=65534") {
		t.Errorf("no refusal logged: %s", logs.String())
	}
	// Refused before anything was read: the Backend was never asked.
	if n := fb.callCount(); n != 0 {
		t.Errorf("the backend answered %d calls for another user", n)
	}
	// The owner still gets answers on the same socket.
	if r := call(t, httpClient(sock), "GET", "/v1/health", ""); r.status != 200 {
		t.Fatalf("owner refused: %d", r.status)
	}
}
