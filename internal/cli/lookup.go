package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/internal/lookup"
	"github.com/torale-ai/torale-cred/internal/progs"
	"github.com/torale-ai/torale-cred/internal/wire"
	"github.com/torale-ai/torale-cred/ipc"
)

// Via says who answered a look-up.
const (
	ViaDaemon   = "daemon"
	ViaKeychain = "keychain" // the daemon is not running; the CLI read the keychain itself
)

// backend is the one Backend every command and the git helper use. It is
// chosen once per process: the daemon's client while the daemon answers
// (and TORALE_CRED_NO_DAEMON is not 1), else the local Store. Both apply the
// same resolver to the same request, and the request carries this
// process's own paths, which a daemon serving other paths reads instead of
// its own: the answer does not depend on who gives it.
//
// A daemon that does not answer (stopped, wedged, overloaded) is left for
// the keychain for a read, with one warning; a write is refused with the
// fix instead, since a stopped daemon would go on serving the old key.
type backend struct {
	f      *Factory
	client *ipc.Client // nil once the local store is chosen
	local  credstore.Backend
	// broken is why the daemon was left for the keychain (nil: it is not
	// running): a write after that is refused with it, not made behind a
	// daemon that would go on serving the old key.
	broken error
	// stuck is the first call's answer without asking: a lean front
	// already waited the client timeout for this daemon
	// (progs.DaemonStuckEnv), so the keychain is read at once, with the
	// same one warning.
	stuck error
	// handed is the daemon's answer to the lean front's own look-up
	// (progs.DaemonAnswerFDEnv): the first Resolve's answer, not asked again.
	handed *handedAnswer
}

// handedAnswer is an answer of the daemon's that a lean front read.
type handedAnswer struct {
	status int
	door   string // the door of the look-up it answers
	raw    []byte
}

// takeHanded reads the answer the front left on descriptor fd (">= 3"):
// "STATUS DOOR\n" then the body. nil when there is none or it cannot be
// read, and the look-up is made again.
func takeHanded(fd string) *handedAnswer {
	n, err := strconv.Atoi(fd)
	if err != nil || n < 3 {
		return nil
	}
	f := os.NewFile(uintptr(n), "daemon-answer")
	if f == nil {
		return nil
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, wire.MaxAnswerBytes+16))
	if err != nil {
		return nil
	}
	line, raw, ok := bytes.Cut(b, []byte("\n"))
	code, door, _ := strings.Cut(string(line), " ")
	status, err := strconv.Atoi(code)
	if !ok || err != nil || status < 200 || status > 599 || !credstore.CheckDoor(door) {
		return nil
	}
	return &handedAnswer{status: status, door: door, raw: raw}
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
			b.client = ipc.NewClient(sock, lookup.ClientTimeout(f.Getenv, f.flags()))
			if f.Getenv(progs.DaemonStuckEnv) == "1" {
				b.stuck = ipc.StuckError(sock)
			} else if fd := f.Getenv(progs.DaemonAnswerFDEnv); fd != "" {
				b.handed = takeHanded(fd)
			}
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
		return fmt.Errorf("%w; nothing was changed. %s", err, msgDaemonStuckFix)
	}
	return fmt.Errorf("%w; nothing was changed", err)
}

// call runs op against the daemon while it answers, else locally.
func (b *backend) call(write bool, op func(credstore.Backend) error) error {
	if write && b.broken != nil {
		return b.writeRefused(b.broken)
	}
	if b.client != nil {
		err := b.stuck
		if err == nil {
			err = op(b.client)
		}
		var answer *ipc.Error
		switch {
		case err == nil, errors.As(err, &answer), errors.Is(err, context.Canceled):
			return err // the daemon's own answer
		case errors.Is(err, ipc.ErrNoDaemon):
		case write:
			return b.writeRefused(err)
		default:
			// Stuck, refused (another user's socket), torn: the keychain
			// gives the same answer, so say so once and ask it.
			b.broken = err
			b.f.warn("%v; reading the keychain directly", err)
		}
		b.client.Close()
		b.client = nil
	}
	l, err := b.localStore()
	if err != nil {
		return err
	}
	return op(l)
}

func (b *backend) Resolve(ctx context.Context, req credstore.Request) (r credstore.Resolution, err error) {
	// A flag or environment key wins without the stored tiers: no socket
	// round trip and no keychain, the same answer, from the local resolver.
	if req.FlagKey != "" || req.Env.APIKey != "" {
		l, lerr := b.localStore()
		if lerr != nil {
			return r, lerr
		}
		return l.Resolve(ctx, req)
	}
	// The front's answer is this process's look-up through the same door
	// (not the git helper's earlier URL-only checks).
	if h := b.handed; h != nil && b.client != nil && h.door == credstore.DoorFrom(ctx) && !req.URLOnly {
		b.handed = nil
		return r, ipc.Answer(h.status, h.raw, &r)
	}
	err = b.call(false, func(be credstore.Backend) (e error) { r, e = be.Resolve(ctx, req); return })
	return r, err
}

func (b *backend) Stored(ctx context.Context, profile string) (r credstore.Resolution, err error) {
	err = b.call(false, func(be credstore.Backend) (e error) { r, e = be.Stored(ctx, profile); return })
	return r, err
}

func (b *backend) List(ctx context.Context) (l []credstore.ProfileInfo, err error) {
	err = b.call(false, func(be credstore.Backend) (e error) { l, e = be.List(ctx); return })
	return l, err
}

func (b *backend) Put(ctx context.Context, profile, key string, o credstore.PutOptions) (i credstore.ProfileInfo, err error) {
	err = b.call(true, func(be credstore.Backend) (e error) { i, e = be.Put(ctx, profile, key, o); return })
	return i, err
}

func (b *backend) Delete(ctx context.Context, profile string) error {
	return b.call(true, func(be credstore.Backend) error { return be.Delete(ctx, profile) })
}

func (b *backend) Health(ctx context.Context) error {
	return b.call(false, func(be credstore.Backend) error { return be.Health(ctx) })
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
		di.State = "not asked (TORALE_CRED_NO_DAEMON=1)"
		return di
	}
	c := ipc.NewClient(sock, 2*time.Second)
	defer c.Close()
	h, err := c.Info(ctx)
	switch {
	case errors.Is(err, ipc.ErrNoDaemon):
		di.State = "not running (no answer on " + sock + ")"
		return di
	case err != nil:
		di.State = fmt.Sprintf("not answering on %s: %v", sock, err)
		return di
	}
	di.Running, di.Version, di.PID, di.Watching = true, h.Version, h.PID, h.Watching
	di.State = fmt.Sprintf("running on %s (version %s, pid %d)", sock, h.Version, h.PID)
	if !h.Watching {
		di.State += "; not moving plaintext keys (--no-watch)"
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
		f.warn("using the plaintext key in config.json, because %s", r.KeychainProblem)
	}
	f.warnIfRotationDue(r)
	return r, nil
}
