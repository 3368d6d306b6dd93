// Package lookup builds the look-up a process makes, by one rule for the
// full CLI and the lean front binaries alike: the request (profile, the
// caller's environment with its own paths made absolute, its rotation
// period), the socket it asks and how long it waits for the daemon. It is
// a leaf: it opens nothing, dials nothing and links nothing heavy.
package lookup

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/torale-ai/torale-cred/internal/paths"
	"github.com/torale-ai/torale-cred/internal/wire"
)

// Flags are the command-line values that change a look-up; the zero value
// is "none given".
type Flags struct {
	Profile         string        // --profile
	ConfigPath      string        // --torale-config
	SocketPath      string        // --socket
	KeychainTimeout time.Duration // --keychain-timeout
	RotateAfter     time.Duration // --rotate-after, when RotateAfterSet
	RotateAfterSet  bool
}

// ConfigPath is the watched config.json: --torale-config, TORALE_CONFIG,
// ~/.torale/config.json.
func ConfigPath(getenv func(string) string, fl Flags) (string, error) {
	if fl.ConfigPath != "" {
		return fl.ConfigPath, nil
	}
	return paths.ToraleConfig(getenv)
}

// SocketPath is the daemon's socket: --socket, TORALE_CRED_SOCKET, the default.
func SocketPath(getenv func(string) string, fl Flags) (string, error) {
	if fl.SocketPath != "" {
		return fl.SocketPath, nil
	}
	return paths.Socket(getenv)
}

// Env is the caller's Torale environment with its own paths filled in as
// this process sees them (absolute), so a daemon with other paths answers
// as this process would on its own.
func Env(getenv func(string) string, fl Flags) wire.Env {
	e := wire.EnvFrom(getenv)
	if p, err := ConfigPath(getenv, fl); err == nil {
		e.Config = absPath(p)
	}
	if d, err := paths.StateDir(getenv); err == nil {
		e.StateDir = absPath(d)
	}
	return e
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// Request is the look-up this process would make for profile: the
// command's --api-key / --api-url (when it has them), its environment, its
// paths and its rotation period (sent only when not the default; a bad
// TORALE_CRED_ROTATE_AFTER is the local store's usage error, not sent).
func Request(getenv func(string) string, fl Flags, profile, flagKey, flagURL string) wire.Request {
	req := wire.Request{Profile: profile, FlagKey: flagKey, FlagURL: flagURL, Env: Env(getenv, fl)}
	if fl.RotateAfterSet {
		req.RotateAfterSeconds = int64(fl.RotateAfter / time.Second)
	} else if d, err := RotationPeriod(getenv, fl); err == nil && d != wire.DefaultRotationPeriod {
		req.RotateAfterSeconds = int64(d / time.Second)
	}
	return req
}

// KeychainTimeout bounds every keychain call: --keychain-timeout,
// TORALE_CRED_KEYCHAIN_TIMEOUT, 3 s. The error is a usage error's sentence.
func KeychainTimeout(getenv func(string) string, fl Flags) (time.Duration, error) {
	if fl.KeychainTimeout > 0 {
		return fl.KeychainTimeout, nil
	}
	if v := getenv("TORALE_CRED_KEYCHAIN_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("TORALE_CRED_KEYCHAIN_TIMEOUT=%q is not a duration such as 3s or 1m", v)
		}
		return d, nil
	}
	return wire.DefaultKeychainTimeout, nil
}

// ClientTimeout is how long a client waits for the daemon's answer: the
// daemon itself may wait on the keychain for its timeout, then 2 s more.
// A bad keychain timeout counts as the default here (the local store
// reports it).
func ClientTimeout(getenv func(string) string, fl Flags) time.Duration {
	d, _ := KeychainTimeout(getenv, fl)
	if d <= 0 {
		d = wire.DefaultKeychainTimeout
	}
	return d + 2*time.Second
}

// RotationPeriod is how long a key lives before it is due: --rotate-after,
// else TORALE_CRED_ROTATE_AFTER, else 90 days. One rule for both: a bad
// value of either is a usage error (this is its sentence) naming the
// allowed range.
func RotationPeriod(getenv func(string) string, fl Flags) (time.Duration, error) {
	if fl.RotateAfterSet {
		return fl.RotateAfter, nil
	}
	if v := getenv("TORALE_CRED_ROTATE_AFTER"); v != "" {
		d, err := ParsePeriod(v)
		if err != nil {
			return 0, fmt.Errorf("TORALE_CRED_ROTATE_AFTER: %s", err)
		}
		return d, nil
	}
	return wire.DefaultRotationPeriod, nil
}
