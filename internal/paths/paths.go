// Package paths works out where torale-cred's files live. Every path has an
// environment override so tests and users can relocate everything under a
// temporary HOME; it never creates or opens anything itself.
package paths

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
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
// $XDG_RUNTIME_DIR/torale/cred.sock, else ~/.torale/cred.sock.
func Socket(env Env) (string, error) {
	if p := env("TORALE_CRED_SOCKET"); p != "" {
		return p, nil
	}
	if d := env("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "torale", "cred.sock"), nil
	}
	h, err := home(env)
	if err != nil {
		return "", err
	}
	return filepath.Join(h, ".torale", "cred.sock"), nil
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
