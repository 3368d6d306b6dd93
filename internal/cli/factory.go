package cli

import (
	"fmt"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/internal/paths"
)

// Factory hands commands their dependencies lazily: a command that never
// touches the keychain never opens D-Bus.
type Factory struct {
	IO     *IOStreams
	Getenv func(string) string
	// Flag values shared by every command.
	Profile         string
	KeychainTimeout time.Duration
	ConfigPath      string
	SocketPath      string
	// RotateAfter is --rotate-after (rotate.go).
	RotateAfter rotateAfter
	// Now is the clock (tests replace it).
	Now func() time.Time

	store *credstore.Store
}

// NewFactory builds a factory over the process environment.
func NewFactory(io *IOStreams, getenv func(string) string) *Factory {
	return &Factory{IO: io, Getenv: getenv, Now: time.Now}
}

// profile is the selected profile: --profile, TORALE_PROFILE, "default".
func (f *Factory) profile() (string, error) {
	p := f.Profile
	if p == "" {
		p = f.Getenv("TORALE_PROFILE")
	}
	if p == "" {
		p = credstore.DefaultProfile
	}
	if err := credstore.CheckProfile(p); err != nil {
		return "", err
	}
	return p, nil
}

// keychainService lets tests and side-by-side installs use their own
// keychain entries; users never need it.
func (f *Factory) keychainService() string {
	if s := f.Getenv("TORALE_CRED_KEYCHAIN_SERVICE"); s != "" {
		return s
	}
	return credstore.Service
}

func (f *Factory) timeout() (time.Duration, error) {
	if f.KeychainTimeout > 0 {
		return f.KeychainTimeout, nil
	}
	if v := f.Getenv("TORALE_CRED_KEYCHAIN_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return 0, usageErrorf("TORALE_CRED_KEYCHAIN_TIMEOUT=%q is not a duration such as 3s or 1m", v)
		}
		return d, nil
	}
	return credstore.DefaultKeychainTimeout, nil
}

// configPath is the watched config.json: --torale-config, TORALE_CONFIG, ~/.torale/config.json.
func (f *Factory) configPath() (string, error) {
	if f.ConfigPath != "" {
		return f.ConfigPath, nil
	}
	return paths.ToraleConfig(f.Getenv)
}

// socketPath is the daemon's socket: --socket, TORALE_CRED_SOCKET, the default.
func (f *Factory) socketPath() (string, error) {
	if f.SocketPath != "" {
		return f.SocketPath, nil
	}
	return paths.Socket(f.Getenv)
}

// Store opens the keychain-backed store (once).
func (f *Factory) Store() (*credstore.Store, error) {
	if f.store != nil {
		return f.store, nil
	}
	d, err := f.timeout()
	if err != nil {
		return nil, err
	}
	stateDir, err := paths.StateDir(f.Getenv)
	if err != nil {
		return nil, err
	}
	cfg, err := f.configPath()
	if err != nil {
		return nil, err
	}
	opts := []credstore.KeychainOption{credstore.WithTimeout(d), credstore.WithService(f.keychainService())}
	if d > credstore.DefaultKeychainTimeout && f.IO.StdinTTY {
		// A user who raised the timeout at a terminal can answer an unlock prompt.
		opts = append(opts, credstore.WithUnlockPrompt())
	}
	f.store = &credstore.Store{
		Keychain:      credstore.NewKeychain(opts...),
		State:         credstore.StateFile{Dir: stateDir},
		ConfigPath:    cfg,
		ConfigProfile: f.configProfile(),
		Now:           f.Now,
	}
	return f.store, nil
}

// configProfile is the profile a plaintext key in config.json belongs to:
// the daemon's, which is "default" unless it runs with --profile.
func (f *Factory) configProfile() string {
	if p := f.Getenv("TORALE_CRED_CONFIG_PROFILE"); p != "" {
		return p
	}
	return credstore.DefaultProfile
}

// printf writes a message for people to stderr.
func (f *Factory) printf(format string, a ...any) {
	fmt.Fprintf(f.IO.ErrOut, format, a...)
}
