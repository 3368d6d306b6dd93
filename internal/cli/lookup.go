package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/ipc"
)

// Via says who answered a look-up.
const (
	ViaDaemon   = "daemon"
	ViaKeychain = "keychain" // the daemon is not running; the CLI read the keychain itself
)

// backend is the one Backend every command and the git helper use, chosen
// once per process: the daemon while it answers and serves this process's
// own files (TORALE_CRED_NO_DAEMON=1 never asks it), else the local Store.
// A process whose config.json or state directory differ from the daemon's
// (/v1/health names the daemon's) answers itself through a local Store
// whose stored keys come from the daemon, so the daemon's policy and trail
// still judge every stored key it hands over. Requests never carry paths.
//
// A daemon that does not answer (stopped, wedged, overloaded) is left for
// the keychain for a read, with one warning; a write is refused with the
// fix instead, since a stopped daemon would go on serving the old key.
type backend struct {
	f      *Factory
	client *ipc.Client // the daemon, while it is asked
	local  credstore.Backend
	// checked: the daemon's files were compared with this process's.
	checked bool
	// broken is why the daemon was left for the keychain (nil: it is not
	// running): a write after that is refused with it, not made behind a
	// daemon that would go on serving the old key.
	broken error
}

var _ credstore.Backend = (*backend)(nil)

// Backend returns the process's Backend (once).
func (f *Factory) Backend() *backend {
	if f.backend != nil {
		return f.backend
	}
	b := &backend{f: f}
	if f.Getenv("TORALE_CRED_NO_DAEMON") != "1" {
		if sock, err := f.socketPath(); err == nil {
			// The daemon itself may wait on the keychain for its timeout.
			b.client = ipc.NewClient(sock, f.clientTimeout())
		}
	}
	f.backend = b
	return b
}

// Via says who answers: the daemon, or this process from the keychain.
func (b *backend) Via() string {
	if b.client != nil {
		return ViaDaemon
	}
	return ViaKeychain
}

func (b *backend) localStore() (credstore.Backend, error) {
	if b.local == nil {
		st, err := b.f.Store()
		if err != nil {
			return nil, err
		}
		b.local = st
	}
	return b.local, nil
}

// writeRefused: a refused or torn socket was sent no key, and nothing was
// stored; a stuck daemon gets the fix.
func (b *backend) writeRefused(err error) error {
	if errors.Is(err, ipc.ErrDaemonStuck) {
		return fmt.Errorf(msgNothingChangedDaemonStuck, err, msgDaemonStuckFix)
	}
	return fmt.Errorf(msgNothingChanged, err)
}

// sameFiles asks the daemon which files it serves (once): when they are
// not this process's, the local Store answers over the daemon's keys.
func (b *backend) sameFiles(ctx context.Context) error {
	if b.checked {
		return nil
	}
	b.checked = true
	h, err := b.client.Info(ctx)
	if err != nil {
		return err
	}
	st, err := b.f.Store()
	if err != nil {
		return err
	}
	if samePath(h.Config, st.ConfigPath) && samePath(h.StateDir, st.StateFile.Dir) {
		return nil
	}
	st.Keychain, st.KeysJudged = daemonKeys{b.client}, true
	b.local, b.client = st, nil
	return nil
}

func samePath(a, b string) bool {
	if a == "" || b == "" {
		return a == b
	}
	aa, err1 := filepath.Abs(a)
	ba, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == ba
}

// call runs op against the daemon while it answers, else locally.
func (b *backend) call(ctx context.Context, write bool, op func(credstore.Backend) error) error {
	// A bad --rotate-after or TORALE_CRED_ROTATE_AFTER is the same usage
	// error whether the daemon answers or the keychain does.
	if _, err := b.f.rotationPeriod(); err != nil {
		return err
	}
	if write && b.broken != nil {
		return b.writeRefused(b.broken)
	}
	if b.client != nil {
		err := b.sameFiles(ctx)
		if err == nil && b.client != nil {
			err = op(b.client)
		}
		var answer *ipc.Error
		switch {
		case b.client == nil && err == nil: // answering itself over the daemon's keys
		case err == nil, errors.As(err, &answer), errors.Is(err, context.Canceled):
			return err // the daemon's own answer
		case errors.Is(err, errUsage):
			return err // the caller's own mistake: the keychain would say the same
		case errors.Is(err, storeerr.ErrKeychain):
			return err // the daemon's report on the keychain, not a broken daemon
		case errors.Is(err, ipc.ErrNoDaemon):
		case write:
			return b.writeRefused(err)
		default:
			// Stuck, refused (another user's socket), torn: the keychain
			// gives the same answer, so say so once and ask it.
			b.broken = err
			b.f.warn(msgReadingKeychainDirectly, err)
		}
		if b.client != nil {
			b.client.Close()
			b.client = nil
		}
	}
	l, err := b.localStore()
	if err != nil {
		return err
	}
	return op(l)
}

// daemonKeys is the daemon as the key store of a process that answers
// itself (its own files differ from the daemon's): every key comes through
// the daemon's hand-out point, judged and recorded there.
type daemonKeys struct{ c *ipc.Client }

func (d daemonKeys) Get(ctx context.Context, profile string) (string, error) {
	r, err := d.c.Stored(ctx, profile)
	return r.Key, err
}

func (d daemonKeys) Set(ctx context.Context, profile, key string) error {
	_, err := d.c.Put(ctx, profile, key, credstore.PutOptions{})
	return err
}

func (d daemonKeys) Delete(ctx context.Context, profile string) error {
	return d.c.Delete(ctx, profile)
}

func (d daemonKeys) Ping(ctx context.Context) error { return d.c.Health(ctx) }

func (b *backend) Resolve(ctx context.Context, req credstore.Request) (r credstore.Resolution, err error) {
	if err := credstore.CheckCallerURL(req); err != nil {
		return r, err
	}
	// A flag or environment key wins without the stored tiers: no socket
	// round trip and no keychain, the same answer, from the local resolver.
	if req.FlagKey != "" || req.Env.APIKey != "" {
		l, lerr := b.localStore()
		if lerr != nil {
			return r, lerr
		}
		return l.Resolve(ctx, req)
	}
	err = b.call(ctx, false, func(be credstore.Backend) (e error) { r, e = be.Resolve(ctx, req); return })
	return r, err
}

func (b *backend) Stored(ctx context.Context, profile string) (r credstore.Resolution, err error) {
	err = b.call(ctx, false, func(be credstore.Backend) (e error) { r, e = be.Stored(ctx, profile); return })
	return r, err
}

// List is the profiles' metadata with each rotation status computed for
// this caller's period (--rotate-after, TORALE_CRED_ROTATE_AFTER): the
// daemon computes its own period's, which a client with another must not
// show.
func (b *backend) List(ctx context.Context) (l []credstore.ProfileInfo, err error) {
	err = b.call(ctx, false, func(be credstore.Backend) (e error) { l, e = be.List(ctx); return })
	if period, perr := b.f.rotationPeriod(); perr == nil {
		for i := range l {
			if l[i].Rotation != nil {
				r := credstore.RotationOf(l[i].Profile, period, b.f.Now())
				l[i].Rotation = &r
			}
		}
	}
	return l, err
}

func (b *backend) Put(ctx context.Context, profile, key string, o credstore.PutOptions) (i credstore.ProfileInfo, err error) {
	err = b.call(ctx, true, func(be credstore.Backend) (e error) { i, e = be.Put(ctx, profile, key, o); return })
	return i, err
}

func (b *backend) Delete(ctx context.Context, profile string) error {
	return b.call(ctx, true, func(be credstore.Backend) error { return be.Delete(ctx, profile) })
}

func (b *backend) Health(ctx context.Context) error {
	return b.call(ctx, false, func(be credstore.Backend) error { return be.Health(ctx) })
}

// daemonInfo is what status and doctor say of the daemon.
type daemonInfo struct {
	Running bool   `json:"running"`
	Socket  string `json:"socket"`
	Version string `json:"version,omitempty"`
	PID     int    `json:"pid,omitempty"`
	// Watching: it moves plaintext keys out of config.json (not --no-watch).
	Watching bool `json:"watching"`
	// State is one clause for people: "running", "not running", "not asked …".
	State string `json:"state"`
}

// daemon asks the daemon's health, bounded by a short timeout.
func (f *Factory) daemon(ctx context.Context) daemonInfo {
	sock, err := f.socketPath()
	if err != nil {
		return daemonInfo{State: "unknown: " + err.Error()}
	}
	di := daemonInfo{Socket: sock}
	if f.Getenv("TORALE_CRED_NO_DAEMON") == "1" {
		di.State = msgDaemonNotAsked
		return di
	}
	c := ipc.NewClient(sock, 2*time.Second)
	defer c.Close()
	h, err := c.Info(ctx)
	switch {
	case errors.Is(err, ipc.ErrNoDaemon):
		di.State = fmt.Sprintf(msgDaemonNotRunning, sock)
		return di
	case err != nil:
		di.State = fmt.Sprintf(msgDaemonNotAnswering, sock, err)
		return di
	}
	di.Running, di.Version, di.PID, di.Watching = true, h.Version, h.PID, h.Watching
	di.State = fmt.Sprintf(msgDaemonRunning, sock, h.Version, h.PID)
	if !h.Watching {
		di.State += msgDaemonNoWatch
	}
	return di
}

// lookup is the look-up of token, exec and env: the selected profile, the
// process's flag and environment, through the Backend, handing the key out
// through door (the audit trail's word). A keychain failure that
// config.json covered and a due rotation are each said once.
func (f *Factory) lookup(ctx context.Context, door, flagKey string) (credstore.Resolution, error) {
	profile, err := f.profile()
	if err != nil {
		return credstore.Resolution{}, err
	}
	r, err := f.Backend().Resolve(credstore.WithDoor(ctx, door), f.request(profile, flagKey, ""))
	if err != nil {
		return r, err
	}
	if r.KeychainProblem != "" {
		f.warn(msgUsingPlaintextKey, r.KeychainProblem)
	}
	f.warnIfRotationDue(r)
	return r, nil
}
