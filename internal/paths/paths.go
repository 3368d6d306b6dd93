// Package paths works out where torale-cred's files live. Every path has an
// environment override so tests and users can relocate everything under a
// temporary HOME; it never creates or opens anything itself.
package paths

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/torale-ai/torale-cred/internal/trust"
)

// Env is the slice of the environment the paths depend on; tests pass their
// own instead of mutating the process environment.
type Env func(string) string

func home(env Env) (string, error) {
	if h := env("HOME"); h != "" {
		return h, nil
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return "", errors.New("cannot find the home directory: set HOME")
	}
	return h, nil
}

// ToraleConfig is the watched plaintext config of the official CLI and SDK:
// TORALE_CONFIG, else ~/.torale/config.json.
func ToraleConfig(env Env) (string, error) {
	if p := env("TORALE_CONFIG"); p != "" {
		return p, nil
	}
	h, err := home(env)
	if err != nil {
		return "", err
	}
	return filepath.Join(h, ".torale", "config.json"), nil
}

// Socket is the daemon's socket: TORALE_CRED_SOCKET, else
// RuntimeDir/torale/cred.sock, else ~/.torale/cred.sock. The daemon and its
// clients reach the same answer whether or not XDG_RUNTIME_DIR is set (a
// cron job, a systemd timer and an `su -l` shell have none).
func Socket(env Env) (string, error) {
	if p := env("TORALE_CRED_SOCKET"); p != "" {
		return p, nil
	}
	if d := RuntimeDir(env); d != "" {
		return filepath.Join(d, "torale", "cred.sock"), nil
	}
	h, err := home(env)
	if err != nil {
		return "", err
	}
	return filepath.Join(h, ".torale", "cred.sock"), nil
}

// RunUserOverride names, for tests only, a directory that stands for
// /run/user (whose entries only root can make).
const RunUserOverride = "TORALE_CRED_TEST_RUN_USER"

// RuntimeDir is the user's runtime directory: $XDG_RUNTIME_DIR, else
// /run/user/UID when that is a directory owned by the user and private to
// them (mode 0700, as systemd-logind makes it), else "" (no such directory,
// or one that cannot be trusted: then nothing is looked for there). This is
// where gpg-agent and ssh-agent users expect a socket to be found without
// XDG_RUNTIME_DIR.
func RuntimeDir(env Env) string {
	if d := env("XDG_RUNTIME_DIR"); d != "" {
		return d
	}
	uid := os.Getuid()
	if uid < 0 { // Windows
		return ""
	}
	root := "/run/user"
	if r := env(RunUserOverride); r != "" {
		root = r
	}
	d := filepath.Join(root, strconv.Itoa(uid))
	fi, err := os.Lstat(d)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 || !trust.OwnedBy(fi, uid) {
		return ""
	}
	return d
}

// SessionBus is the D-Bus session bus's address: DBUS_SESSION_BUS_ADDRESS
// (unless it asks for autolaunch), else unix:path=RuntimeDir/bus when that
// is a socket owned by the user, else "" (no session bus to be found;
// nothing is started to make one).
func SessionBus(env Env) string {
	if a := env("DBUS_SESSION_BUS_ADDRESS"); a != "" && a != "autolaunch:" {
		return a
	}
	d := RuntimeDir(env)
	if d == "" {
		return ""
	}
	bus := filepath.Join(d, "bus")
	fi, err := os.Stat(bus)
	if err != nil || fi.Mode().Type() != fs.ModeSocket || !trust.OwnedBy(fi, os.Getuid()) {
		return ""
	}
	return "unix:path=" + escapeBusValue(bus)
}

// escapeBusValue escapes a value of a D-Bus address as the specification
// says: every byte but [-0-9A-Za-z_/.\*] as %XX.
func escapeBusValue(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z',
			c == '-', c == '_', c == '/', c == '.', c == '\\', c == '*':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// StateDir holds state.json (metadata, never secrets): TORALE_CRED_STATE_DIR,
// else $XDG_STATE_HOME/torale-cred, else ~/.local/state/torale-cred (macOS:
// ~/Library/Application Support/torale-cred).
func StateDir(env Env) (string, error) {
	if p := env("TORALE_CRED_STATE_DIR"); p != "" {
		return p, nil
	}
	if d := env("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "torale-cred"), nil
	}
	h, err := home(env)
	if err != nil {
		return "", err
	}
	if runtime.GOOS == "darwin" {
		return filepath.Join(h, "Library", "Application Support", "torale-cred"), nil
	}
	return filepath.Join(h, ".local", "state", "torale-cred"), nil
}
