package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/ipc"
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

// daemonClient is a client for the daemon's socket, or nil when
// TORALE_CRED_NO_DAEMON=1 says to read the keychain directly.
func (f *Factory) daemonClient() *ipc.Client {
	if f.Getenv("TORALE_CRED_NO_DAEMON") == "1" {
		return nil
	}
	sock, err := f.socketPath()
	if err != nil {
		return nil
	}
	return ipc.NewClient(sock)
}

// daemonContext bounds a daemon request: the daemon itself may wait on the
// keychain for the keychain timeout.
func (f *Factory) daemonContext(ctx context.Context) (context.Context, context.CancelFunc) {
	d, err := f.timeout()
	if err != nil {
		d = credstore.DefaultKeychainTimeout
	}
	return context.WithTimeout(ctx, d+5*time.Second)
}

// Resolve answers a look-up, asking the daemon when it runs and reading the
// keychain directly when it does not; the answer is the same either way.
// When the daemon answers "no key" or "keychain unavailable", the URL is
// worked out locally (it touches no keychain) so callers see the same
// Resolution as from a local look-up.
func (f *Factory) Resolve(ctx context.Context, req credstore.Request) (credstore.Resolution, string, error) {
	// A flag or environment key wins without the stored tiers: no socket
	// round trip, no keychain, the same answer.
	local := req.FlagKey != "" || req.Env.APIKey != ""
	if c := f.daemonClient(); c != nil && !local {
		defer c.Close()
		dctx, cancel := f.daemonContext(ctx)
		ans, err := c.Resolve(dctx, req)
		cancel()
		var ie *ipc.Error
		switch {
		case err == nil:
			return ans.Resolution(), ViaDaemon, nil
		case errors.As(err, &ie) && (errors.Is(err, credstore.ErrNotFound) || errors.Is(err, credstore.ErrKeychain)):
			r := credstore.Resolution{Profile: req.Profile, KeySource: credstore.FromNone, NoAuth: req.Env.NoAuth == "1"}
			if st, serr := f.Store(); serr == nil {
				r.URL, r.URLSource = credstore.ResolveURL(req, st)
			}
			return r, ViaDaemon, err
		case errors.As(err, &ie):
			return credstore.Resolution{Profile: req.Profile}, ViaDaemon, err
		case !errors.Is(err, ipc.ErrNoDaemon) && !errors.Is(err, context.DeadlineExceeded):
			// Not the daemon's answer (refused peer, torn connection):
			// say so, then read the keychain, which gives the same answer.
			f.printf("torale-cred: warning: %v; reading the keychain directly\n", err)
		}
	}
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
	if c := f.daemonClient(); c != nil {
		defer c.Close()
		dctx, cancel := f.daemonContext(ctx)
		_, err := c.Put(dctx, profile, key, o)
		cancel()
		if !errors.Is(err, ipc.ErrNoDaemon) {
			return err
		}
	}
	st, err := f.Store()
	if err != nil {
		return err
	}
	return st.Put(ctx, profile, key, o)
}

// storeDelete removes a key, through the daemon when it runs.
func (f *Factory) storeDelete(ctx context.Context, profile string) error {
	if c := f.daemonClient(); c != nil {
		defer c.Close()
		dctx, cancel := f.daemonContext(ctx)
		err := c.Delete(dctx, profile)
		cancel()
		if !errors.Is(err, ipc.ErrNoDaemon) {
			return err
		}
	}
	st, err := f.Store()
	if err != nil {
		return err
	}
	return st.Delete(ctx, profile)
}

// daemonState says whether the daemon answers on its socket, and how.
func (f *Factory) daemonState(ctx context.Context) string {
	sock, err := f.socketPath()
	if err != nil {
		return "unknown: " + err.Error()
	}
	if f.Getenv("TORALE_CRED_NO_DAEMON") == "1" {
		return "not asked (TORALE_CRED_NO_DAEMON=1)"
	}
	c := ipc.NewClient(sock)
	defer c.Close()
	hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	h, err := c.Health(hctx)
	switch {
	case errors.Is(err, ipc.ErrNoDaemon):
		return "not running (no answer on " + sock + ")"
	case err != nil:
		return fmt.Sprintf("not answering on %s: %v", sock, err)
	}
	s := "running on " + sock + " (version " + h.Version + ")"
	if h.Keychain != "ok" {
		s += "; its keychain is " + h.Keychain
	}
	return s
}
