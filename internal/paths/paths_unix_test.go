//go:build unix

package paths

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// world is a HOME, an XDG_RUNTIME_DIR and a stand-in for /run/user, each
// made by a row's setup.
type world struct {
	home, xdg, runUser, mine string // mine: runUser/UID
}

// expand is a case's variables with "XDG" standing for the world's own
// runtime directory.
func (w world) expand(vars map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range vars {
		if v == "XDG" {
			v = w.xdg
		}
		out[k] = v
	}
	return out
}

func newWorld(t *testing.T) world {
	t.Helper()
	w := world{home: t.TempDir(), xdg: t.TempDir(), runUser: t.TempDir()}
	w.mine = filepath.Join(w.runUser, strconv.Itoa(os.Getuid()))
	return w
}

func (w world) env(vars map[string]string) Env {
	return func(k string) string {
		if v, ok := vars[k]; ok {
			return v
		}
		switch k {
		case "HOME":
			return w.home
		case RunUserOverride:
			return w.runUser
		}
		return ""
	}
}

func mkdir(t *testing.T, dir string, mode os.FileMode) {
	t.Helper()
	if err := os.Mkdir(dir, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

func listen(t *testing.T, path string) {
	t.Helper()
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
}

func asOtherUser(t *testing.T, path string) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("giving a file to another user needs root")
	}
	if err := os.Lchown(path, 4242, 4242); err != nil {
		t.Fatal(err)
	}
}

// TestSocket is the one rule for where the daemon listens and its clients
// look: TORALE_CRED_SOCKET, $XDG_RUNTIME_DIR, /run/user/UID when it is the
// user's own private directory, ~/.torale. A cron job has no
// XDG_RUNTIME_DIR and must find the daemon a login session started.
func TestSocket(t *testing.T) {
	for _, tc := range []struct {
		name  string
		vars  map[string]string
		setup func(t *testing.T, w world)
		want  func(w world) string
	}{
		{"the override wins", map[string]string{"TORALE_CRED_SOCKET": "/x/s.sock", "XDG_RUNTIME_DIR": "/run/user/7"}, nil,
			func(world) string { return "/x/s.sock" }},
		{"XDG_RUNTIME_DIR", map[string]string{"XDG_RUNTIME_DIR": "XDG"}, func(t *testing.T, w world) { mkdir(t, w.mine, 0o700) },
			func(w world) string { return filepath.Join(w.xdg, "torale", "cred.sock") }},
		{"no XDG_RUNTIME_DIR: the user's /run/user/UID", nil, func(t *testing.T, w world) { mkdir(t, w.mine, 0o700) },
			func(w world) string { return filepath.Join(w.mine, "torale", "cred.sock") }},
		{"no /run/user/UID: ~/.torale", nil, nil,
			func(w world) string { return filepath.Join(w.home, ".torale", "cred.sock") }},
		{"/run/user/UID open to others: ~/.torale", nil, func(t *testing.T, w world) { mkdir(t, w.mine, 0o755) },
			func(w world) string { return filepath.Join(w.home, ".torale", "cred.sock") }},
		{"/run/user/UID a symlink: ~/.torale", nil, func(t *testing.T, w world) {
			d := filepath.Join(w.runUser, "elsewhere")
			mkdir(t, d, 0o700)
			if err := os.Symlink(d, w.mine); err != nil {
				t.Fatal(err)
			}
		}, func(w world) string { return filepath.Join(w.home, ".torale", "cred.sock") }},
		{"/run/user/UID a file: ~/.torale", nil, func(t *testing.T, w world) {
			if err := os.WriteFile(w.mine, nil, 0o700); err != nil {
				t.Fatal(err)
			}
		}, func(w world) string { return filepath.Join(w.home, ".torale", "cred.sock") }},
		{"/run/user/UID another user's: ~/.torale", nil, func(t *testing.T, w world) {
			mkdir(t, w.mine, 0o700)
			asOtherUser(t, w.mine)
		}, func(w world) string { return filepath.Join(w.home, ".torale", "cred.sock") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			vars := w.expand(tc.vars)
			if tc.setup != nil {
				tc.setup(t, w)
			}
			got, err := Socket(w.env(vars))
			if err != nil {
				t.Fatal(err)
			}
			if want := tc.want(w); got != want {
				t.Errorf("Socket = %s, want %s", got, want)
			}
		})
	}
}

// TestSessionBus: the same rule finds the session bus, for go-keyring,
// when DBUS_SESSION_BUS_ADDRESS is unset; nothing is autolaunched.
func TestSessionBus(t *testing.T) {
	for _, tc := range []struct {
		name  string
		vars  map[string]string
		setup func(t *testing.T, w world) string // returns the bus socket's directory
		want  string                             // "BUS": unix:path= that directory's bus
	}{
		{"DBUS_SESSION_BUS_ADDRESS wins", map[string]string{"DBUS_SESSION_BUS_ADDRESS": "unix:path=/x/bus"}, nil, "unix:path=/x/bus"},
		{"XDG_RUNTIME_DIR/bus", map[string]string{"XDG_RUNTIME_DIR": "XDG"}, func(t *testing.T, w world) string {
			listen(t, filepath.Join(w.xdg, "bus"))
			return w.xdg
		}, "BUS"},
		{"autolaunch is not an address", map[string]string{"DBUS_SESSION_BUS_ADDRESS": "autolaunch:", "XDG_RUNTIME_DIR": "XDG"}, func(t *testing.T, w world) string {
			listen(t, filepath.Join(w.xdg, "bus"))
			return w.xdg
		}, "BUS"},
		{"no variables: /run/user/UID/bus", nil, func(t *testing.T, w world) string {
			mkdir(t, w.mine, 0o700)
			listen(t, filepath.Join(w.mine, "bus"))
			return w.mine
		}, "BUS"},
		{"no variables, no /run/user/UID", nil, nil, ""},
		{"/run/user/UID without a bus", nil, func(t *testing.T, w world) string { mkdir(t, w.mine, 0o700); return w.mine }, ""},
		{"bus not a socket", nil, func(t *testing.T, w world) string {
			mkdir(t, w.mine, 0o700)
			if err := os.WriteFile(filepath.Join(w.mine, "bus"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return w.mine
		}, ""},
		{"/run/user/UID open to others", nil, func(t *testing.T, w world) string {
			mkdir(t, w.mine, 0o711)
			listen(t, filepath.Join(w.mine, "bus"))
			return w.mine
		}, ""},
		{"bus another user's", nil, func(t *testing.T, w world) string {
			mkdir(t, w.mine, 0o700)
			listen(t, filepath.Join(w.mine, "bus"))
			asOtherUser(t, filepath.Join(w.mine, "bus"))
			return w.mine
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			vars := w.expand(tc.vars)
			want := tc.want
			if tc.setup != nil {
				if dir := tc.setup(t, w); want == "BUS" {
					want = "unix:path=" + escapeBusValue(filepath.Join(dir, "bus"))
				}
			}
			if got := SessionBus(w.env(vars)); got != want {
				t.Errorf("SessionBus = %q, want %q", got, want)
			}
		})
	}
}

func TestEscapeBusValue(t *testing.T) {
	if got, want := escapeBusValue("/home/a b,c;d=e/bus"), "/home/a%20b%2Cc%3Bd%3De/bus"; got != want {
		t.Errorf("escapeBusValue = %q, want %q", got, want)
	}
}
