package cli

import (
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/keychain"
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

// profile is the selected profile: --profile, TORALE_PROFILE, "default".
func (f *Factory) profile() (string, error) {
	return credstore.ProfileOf(f.Profile, credstore.EnvFrom(f.Getenv))
}

// profileChosen: the user named a profile (flag or TORALE_PROFILE).
func (f *Factory) profileChosen() bool {
	return f.Profile != "" || f.Getenv("TORALE_PROFILE") != ""
}

// env is the caller's Torale environment.
func (f *Factory) env() credstore.Env { return credstore.EnvFrom(f.Getenv) }

// request is the look-up this process would make: --api-key / --api-url
// (when the command has them), its environment and its rotation period
// (sent only when not the default; a bad TORALE_CRED_ROTATE_AFTER is the
// local store's usage error, not sent).
func (f *Factory) request(profile, flagKey, flagURL string) credstore.Request {
	req := credstore.Request{Profile: profile, FlagKey: flagKey, FlagURL: flagURL, Env: f.env()}
	if d, err := f.rotationPeriod(); err == nil && d != credstore.DefaultRotationPeriod {
		req.RotateAfterSeconds = int64(d / time.Second)
	}
	return req
}

// keychainService lets tests and side-by-side installs use their own
// keychain entries; users never need it.
func (f *Factory) keychainService() string {
	if s := f.Getenv("TORALE_CRED_KEYCHAIN_SERVICE"); s != "" {
		return s
	}
	return keychain.Service
}

// timeout bounds every keychain call: --keychain-timeout,
// TORALE_CRED_KEYCHAIN_TIMEOUT, 3 s; a bad value is a usage error.
func (f *Factory) timeout() (time.Duration, error) {
	if f.KeychainTimeout > 0 {
		return f.KeychainTimeout, nil
	}
	if v := f.Getenv("TORALE_CRED_KEYCHAIN_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return 0, usageErrorf(msgBadKeychainTimeout, v)
		}
		return d, nil
	}
	return keychain.DefaultTimeout, nil
}

// clientTimeout is how long a client waits for the daemon's answer: the
// daemon itself may wait on the keychain for its timeout, then 2 s more.
// A bad keychain timeout counts as the default here (the local store
// reports it).
func (f *Factory) clientTimeout() time.Duration {
	d, err := f.timeout()
	if err != nil {
		d = keychain.DefaultTimeout
	}
	return d + 2*time.Second
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

// keychain opens the OS keychain with this process's bounds.
func (f *Factory) keychain() (*keychain.Keychain, error) {
	d, err := f.timeout()
	if err != nil {
		return nil, err
	}
	opts := []keychain.Option{keychain.WithTimeout(d), keychain.WithService(f.keychainService())}
	if d > keychain.DefaultTimeout && f.IO.StdinTTY {
		// A user who raised the timeout at a terminal can answer an unlock prompt.
		opts = append(opts, keychain.WithUnlockPrompt())
	}
	return keychain.New(opts...), nil
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
		Audit: f.localAudit, Warn: func(msg string) { f.warn("%s", msg) },
		// A Vault or credentials profile is read with this command's
		// environment (VAULT_ADDR, VAULT_TOKEN, CREDENTIALS_DIRECTORY).
		Remote: func(_ string, spec credstore.StoreSpec) (credstore.Source, error) {
			return credstore.OpenStore(spec, f.Getenv)
		}}
	return f.store, nil
}
