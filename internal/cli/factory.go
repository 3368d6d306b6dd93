package cli

import (
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/internal/lookup"
	"github.com/torale-ai/torale-cred/internal/paths"
)

// Factory hands commands their dependencies lazily: a command that never
// touches the keychain never opens D-Bus, and one that never looks a key
// up never dials the daemon.
type Factory struct {
	IO     *IOStreams
	Getenv func(string) string
	// Flag values shared by every command.
	Profile         string
	KeychainTimeout time.Duration
	ConfigPath      string
	SocketPath      string
	// RotateAfter is --rotate-after (period.go).
	RotateAfter rotateAfter
	// Now is the clock (tests replace it).
	Now func() time.Time

	store   *credstore.Store
	backend *backend
}

// NewFactory builds a factory over the process environment.
func NewFactory(io *IOStreams, getenv func(string) string) *Factory {
	return &Factory{IO: io, Getenv: getenv, Now: time.Now}
}

// flags are the command line's look-up flags, as internal/lookup takes them.
func (f *Factory) flags() lookup.Flags {
	return lookup.Flags{Profile: f.Profile, ConfigPath: f.ConfigPath, SocketPath: f.SocketPath,
		KeychainTimeout: f.KeychainTimeout, RotateAfter: f.RotateAfter.d, RotateAfterSet: f.RotateAfter.set}
}

// env is the caller's Torale environment with its own paths filled in as
// this process sees them (absolute), by lookup.Env.
func (f *Factory) env() credstore.Env { return lookup.Env(f.Getenv, f.flags()) }

// profile is the selected profile: --profile, TORALE_PROFILE, "default".
func (f *Factory) profile() (string, error) {
	return credstore.ProfileOf(f.Profile, credstore.EnvFrom(f.Getenv))
}

// profileChosen: the user named a profile (flag or TORALE_PROFILE).
func (f *Factory) profileChosen() bool {
	return f.Profile != "" || f.Getenv("TORALE_PROFILE") != ""
}

// request is the look-up this process would make: --api-key / --api-url
// (when the command has them), its environment, its paths and its
// rotation period (lookup.Request, the lean front's rule too).
func (f *Factory) request(profile, flagKey, flagURL string) credstore.Request {
	return lookup.Request(f.Getenv, f.flags(), profile, flagKey, flagURL)
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
	d, err := lookup.KeychainTimeout(f.Getenv, f.flags())
	if err != nil {
		return 0, usageErrorf("%s", err)
	}
	return d, nil
}

// configPath is the watched config.json: --torale-config, TORALE_CONFIG, ~/.torale/config.json.
func (f *Factory) configPath() (string, error) { return lookup.ConfigPath(f.Getenv, f.flags()) }

// socketPath is the daemon's socket: --socket, TORALE_CRED_SOCKET, the default.
func (f *Factory) socketPath() (string, error) { return lookup.SocketPath(f.Getenv, f.flags()) }

// keychain opens the OS keychain with this process's bounds.
func (f *Factory) keychain() (*credstore.Keychain, error) {
	d, err := f.timeout()
	if err != nil {
		return nil, err
	}
	opts := []credstore.KeychainOption{credstore.WithTimeout(d), credstore.WithService(f.keychainService())}
	if d > credstore.DefaultKeychainTimeout && f.IO.StdinTTY {
		// A user who raised the timeout at a terminal can answer an unlock prompt.
		opts = append(opts, credstore.WithUnlockPrompt())
	}
	return credstore.NewKeychain(opts...), nil
}

// Store is the local Backend over the keychain and this process's files
// (once). Commands use Backend; Store is for what only this process can
// do itself (import's migration, the daemon's own store).
func (f *Factory) Store() (*credstore.Store, error) {
	if f.store != nil {
		return f.store, nil
	}
	kc, err := f.keychain()
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
	period, err := f.rotationPeriod()
	if err != nil {
		return nil, err
	}
	f.store = &credstore.Store{Keychain: kc, StateFile: credstore.StateFile{Dir: stateDir}, ConfigPath: cfg, Period: period, Now: f.Now,
		Audit: f.localAudit, Warn: func(msg string) { f.warn("%s", msg) }}
	return f.store, nil
}
