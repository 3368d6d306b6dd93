package daemon

import (
	"context"
	"log/slog"
	"os"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/credstore/vault"
	"github.com/torale-ai/torale-cred/internal/vaultkv"
)

// remotes are the daemon's stores beyond the keychain: for each profile
// whose key lives in Vault, a follower that keeps the current version in
// memory (never on disk) and polls for the next; a credentials store is
// read where systemd put it. Store.Remote opens them through open.
type remotes struct {
	log        *slog.Logger
	interval   time.Duration
	maxBackoff time.Duration
	getenv     func(string) string
	// taken is told each version a follower takes (state.json's hint).
	taken func(profile string, s vaultkv.Secret)

	mu      sync.Mutex
	ctx     context.Context // the daemon's background context once running
	entries map[string]*remoteEntry
}

type remoteEntry struct {
	spec     credstore.StoreSpec
	src      credstore.Source
	follower *vaultkv.Follower
	cancel   context.CancelFunc
}

func newRemotes(log *slog.Logger, interval, maxBackoff time.Duration) *remotes {
	return &remotes{log: log, interval: interval, maxBackoff: maxBackoff, getenv: os.Getenv, entries: map[string]*remoteEntry{}}
}

// open implements credstore.RemoteOpener: one follower per profile and
// spec; a changed spec stops the old one.
func (r *remotes) open(profile string, spec credstore.StoreSpec) (credstore.Source, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.entries[profile]; ok {
		if reflect.DeepEqual(e.spec, spec) {
			return e.src, nil
		}
		r.stopLocked(profile)
	}
	if spec.Kind != credstore.StoreVault || spec.Vault == nil {
		src, err := credstore.OpenStore(spec, r.getenv)
		if err != nil {
			return nil, err
		}
		r.entries[profile] = &remoteEntry{spec: spec, src: src}
		return src, nil
	}
	c, err := vaultkv.New(vault.Config(*spec.Vault, r.getenv))
	if err != nil {
		return nil, err
	}
	f := &vaultkv.Follower{C: c, Interval: r.interval, MaxBackoff: r.maxBackoff, Log: r.log.With("profile", profile)}
	if r.taken != nil {
		f.OnChange = func(s vaultkv.Secret) { r.taken(profile, s) }
	}
	e := &remoteEntry{spec: spec, follower: f, src: &followed{f: f, vs: &vault.Source{C: c, Wrote: f.Took}}}
	r.entries[profile] = e
	if r.ctx != nil {
		r.startLocked(e)
	}
	return e.src, nil
}

func (r *remotes) startLocked(e *remoteEntry) {
	if e.follower == nil || e.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(r.ctx)
	e.cancel = cancel
	go func() { _ = e.follower.Run(ctx) }()
}

func (r *remotes) stopLocked(profile string) {
	if e := r.entries[profile]; e != nil && e.cancel != nil {
		e.cancel()
	}
	delete(r.entries, profile)
}

// run starts the followers opened so far and any opened later, until ctx
// ends; then it stops them all.
func (r *remotes) run(ctx context.Context) error {
	r.mu.Lock()
	r.ctx = ctx
	for _, e := range r.entries {
		r.startLocked(e)
	}
	r.mu.Unlock()
	<-ctx.Done()
	r.mu.Lock()
	for p := range r.entries {
		r.stopLocked(p)
	}
	r.mu.Unlock()
	return nil
}

// reconcile stops the followers of profiles whose store state.json no
// longer names as it was (store set keychain, another path): their keys
// leave memory.
func (r *remotes) reconcile(st *credstore.State) {
	if st == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for p, e := range r.entries {
		if spec, ok := st.Stores[p]; !ok || !reflect.DeepEqual(spec, e.spec) {
			r.stopLocked(p)
		}
	}
}

// statuses are the remote stores' states for /v1/health.
func (r *remotes) statuses() map[string]credstore.StoreStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.entries) == 0 {
		return nil
	}
	out := map[string]credstore.StoreStatus{}
	for p, e := range r.entries {
		if ss, ok := e.src.(credstore.StatusSource); ok {
			out[p] = ss.StoreStatus(p)
			continue
		}
		st := credstore.StoreStatus{State: "ok"}
		if _, err := e.src.Get(context.Background(), p); err != nil {
			st.State = "unavailable: " + err.Error()
		}
		out[p] = st
	}
	return out
}

// followed is a Vault profile's Source in the daemon: the follower's key,
// read synchronously only until the first version is held.
type followed struct {
	f  *vaultkv.Follower
	vs *vault.Source
}

func (s *followed) GetVersion(ctx context.Context, profile string) (string, int, error) {
	if !s.f.Loaded() {
		_ = s.f.Refresh(ctx)
	}
	cur, err := s.f.Current()
	if err != nil {
		return "", 0, &storeerr.StoreError{Profile: profile, Err: err}
	}
	return cur.Key, cur.Version, nil
}

func (s *followed) Get(ctx context.Context, profile string) (string, error) {
	k, _, err := s.GetVersion(ctx, profile)
	return k, err
}

func (s *followed) Set(ctx context.Context, profile, key string) error {
	return s.vs.Set(ctx, profile, key)
}

func (s *followed) Delete(ctx context.Context, profile string) error {
	return s.vs.Delete(ctx, profile)
}

func (s *followed) Ping(ctx context.Context) error { return s.vs.Ping(ctx) }

// StoreStatus implements credstore.StatusSource.
func (s *followed) StoreStatus(string) credstore.StoreStatus {
	st := s.f.State()
	out := credstore.StoreStatus{State: "ok", Version: st.Version}
	if st.Err != nil {
		out.State = "unavailable: " + st.Err.Error()
		if st.Version > 0 {
			out.State += "; still serving version " + itoa(st.Version)
		}
		since := st.ErrSince.UTC()
		out.Since = &since
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

var (
	_ credstore.VersionedSource = (*followed)(nil)
	_ credstore.StatusSource    = (*followed)(nil)
)

// recordTaken keeps state.json's metadata of a Vault profile in step with
// the version served: its hint, and when this machine took it (the
// rotation clock), remembering the hint it replaced. Never the key.
func (d *Daemon) recordTaken(profile string, s vaultkv.Secret) {
	hint := apikey.Hint(s.Key)
	err := d.store.UpdateState(func(st *credstore.State) error {
		if _, ok := st.Stores[profile]; !ok {
			return nil // the store changed meanwhile
		}
		p := st.Profiles[profile]
		if p != nil && p.KeyHint == hint {
			return nil
		}
		np := &credstore.Profile{KeyHint: hint, StoredAt: time.Now().UTC(), Source: credstore.SourceVault}
		if p != nil {
			np.APIURL, np.PreviousKeyHint = p.APIURL, p.KeyHint
		}
		st.Profiles[profile] = np
		return nil
	})
	if err != nil {
		d.log.Warn("cannot record the Vault key's new version in the metadata", "profile", profile, "version", s.Version, "err", err)
	}
}
