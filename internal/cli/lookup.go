package cli

import (
	"context"

	"github.com/torale-ai/torale-cred/credstore"
)

// Via says who answered a look-up.
const (
	ViaDaemon   = "daemon"
	ViaKeychain = "keychain" // the daemon is not running; the CLI read the keychain itself
)

// request is the look-up this process would make: --api-key / --api-url
// flags (when the command has them) and the process environment.
func (f *Factory) request(profile, flagKey, flagURL string) credstore.Request {
	return credstore.Request{Profile: profile, FlagKey: flagKey, FlagURL: flagURL, Env: credstore.EnvFrom(f.Getenv)}
}

// Resolve answers a look-up, asking the daemon when it runs and reading the
// keychain directly when it does not; the answer is the same either way.
func (f *Factory) Resolve(ctx context.Context, req credstore.Request) (credstore.Resolution, string, error) {
	st, err := f.Store()
	if err != nil {
		return credstore.Resolution{}, "", err
	}
	r, err := st.Resolve(ctx, req)
	return r, ViaKeychain, err
}

// storePut stores a key, through the daemon when it runs so its cache
// cannot serve the old key, else straight into the keychain.
func (f *Factory) storePut(ctx context.Context, profile, key string, o credstore.PutOptions) error {
	st, err := f.Store()
	if err != nil {
		return err
	}
	return st.Put(ctx, profile, key, o)
}

// storeDelete removes a key, through the daemon when it runs.
func (f *Factory) storeDelete(ctx context.Context, profile string) error {
	st, err := f.Store()
	if err != nil {
		return err
	}
	return st.Delete(ctx, profile)
}

// daemonState says whether the daemon answers on its socket.
func (f *Factory) daemonState(context.Context) string {
	sock, err := f.socketPath()
	if err != nil {
		return "unknown: " + err.Error()
	}
	return "not running (no answer on " + sock + ")"
}
