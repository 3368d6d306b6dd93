// Package credstore chooses a Torale key and hands it out: the request
// and answer types every door shares, the resolver's precedence rules
// (resolve.go), and the Store, which keeps the metadata in state.json,
// moves keys out of config.json, and is the one hand-out point that judges
// every key by its profile's policy and records it (handout.go), over the
// Sources that hold the keys (credstore/keychain, credstore/vault,
// credstore/credentials). It never listens on a socket, and a key it holds
// reaches a file only when the user asks restore to put it back into
// config.json.
package credstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/internal/audit"
	"github.com/torale-ai/torale-cred/internal/toraleconfig"
)

// Source is where a profile's stored key lives, under the resolver's
// stored tier: the OS keychain (*keychain.Keychain), the daemon's cache in
// front of any Source, or the daemon itself for a client answering over its
// keys. A new store (Vault, systemd credentials) is one more implementation;
// the resolver and the hand-out point never know which they hold.
//
// Get returns storeerr.ErrNotFound when the profile has no key, and a
// storeerr.ErrKeychain error when the store cannot answer (never "no key").
// A read-only store refuses Set and Delete with an error that says so.
type Source interface {
	Get(ctx context.Context, profile string) (string, error)
	Set(ctx context.Context, profile, key string) error
	Delete(ctx context.Context, profile string) error
	// Ping is nil when the store answers, else why not.
	Ping(ctx context.Context) error
}

// Files is how the Store sees config.json and state.json: DiskFiles reads
// them on every call; the daemon keeps them in memory and reloads them when
// its watcher says they changed.
type Files interface {
	// Config is config.json through toraleconfig.Load.
	Config() (toraleconfig.Snapshot, error)
	// State is state.json.
	State() (*State, error)
	// Reload is called after the Store wrote either file.
	Reload()
}

// DiskFiles reads config.json and state.json afresh on every call.
type DiskFiles struct {
	ConfigPath string
	StateFile  StateFile
}

func (d DiskFiles) Config() (toraleconfig.Snapshot, error) {
	if d.ConfigPath == "" {
		return toraleconfig.Snapshot{}, nil
	}
	return toraleconfig.Load(d.ConfigPath)
}
func (d DiskFiles) State() (*State, error) { return d.StateFile.Load() }
func (DiskFiles) Reload()                  {}

// Store is the local Backend: the keychain, its metadata and the plaintext
// config.json it may fall back to (read only; MigrateConfig moves a key out).
type Store struct {
	Keychain Source
	// StateFile is state.json, written by Put, Delete and migrations.
	StateFile StateFile
	// ConfigPath is the official tools' config.json.
	ConfigPath string
	// Files is how both are read (nil: DiskFiles over the two paths).
	Files Files
	// Shelf keeps the keys other keys displaced (displaced.go; nil: the
	// Keychain's own shelf when Keychain is a *keychain.Keychain, else
	// none: the process that writes the keys keeps them).
	Shelf Source
	// Period is the rotation period (0: DefaultRotationPeriod).
	Period time.Duration
	// Now is the clock, replaceable in tests.
	Now func() time.Time
	// Audit records every key handed out, and every write, through a door
	// into this Store's trail (nil: no trail).
	Audit func(e audit.Event)
	// Warn reports a problem that fails nothing (nil: dropped).
	Warn func(msg string)
	// Ask puts a policy's question to the user (nil: notify.Ask).
	Ask AskFunc
	// ConfirmWait bounds the wait for the user's answer (0, or more than
	// ConfirmTimeout: ConfirmTimeout).
	ConfirmWait time.Duration

	// Tokens keeps the local endpoint's tokens (nil: Keychain). The daemon
	// gives the keychain itself, not its cache: a token reissued by the CLI
	// must be read afresh.
	Tokens Source
	// NoEndpoint: the local endpoint does not run in this process (the
	// daemon's --no-endpoint, or a port it could not open), so a migration
	// removes the key whatever state.json says.
	NoEndpoint bool

	// Remote opens the Source of a profile whose key state.json places
	// beyond the keychain (a vault or credentials store); nil: OpenStore
	// over this process's environment, one read per look-up. The daemon
	// gives its followers, which hold the key in memory.
	Remote RemoteOpener

	// KeysJudged: Keychain is the daemon (a client whose own files differ
	// from the daemon's answers itself over the daemon's keys), which
	// judges and records every stored key it hands this process.
	KeysJudged bool

	asking singleflight.Group

	remoteMu sync.Mutex
	remotes  map[string]openedRemote

	// writeMu makes the Store one writer: a Put racing a migration must not
	// read back the other's key and call it an outage.
	writeMu sync.Mutex
}

var _ Backend = (*Store)(nil)

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Store) warnf(format string, a ...any) {
	if s.Warn != nil {
		s.Warn(fmt.Sprintf(format, a...))
	}
}

func (s *Store) files() Files {
	if s.Files != nil {
		return s.Files
	}
	return DiskFiles{ConfigPath: s.ConfigPath, StateFile: s.StateFile}
}

// ConfigOwner is the one rule for which profile config.json's key belongs
// to: the profile recorded by `daemon --profile` (state.json's
// config_profile), else "default".
func (s *Store) ConfigOwner() string {
	st, err := s.files().State()
	if err != nil {
		return DefaultProfile
	}
	return st.ConfigOwner()
}

// SetConfigOwner records profile as config.json's owner: `daemon
// --profile`'s alone (a one-off import uses MigrateConfigTo and records
// nothing).
func (s *Store) SetConfigOwner(profile string) error {
	if err := CheckProfile(profile); err != nil {
		return err
	}
	if s.ConfigOwner() == profile {
		return nil
	}
	err := s.StateFile.Update(func(st *State) error {
		st.ConfigProfile = profile
		if profile == DefaultProfile {
			st.ConfigProfile = ""
		}
		return nil
	})
	s.files().Reload()
	return err
}

// view is one look-up's consistent reading of the files: each is read at
// most once, and only if the look-up gets that far.
type view struct {
	s   *Store
	cfg *toraleconfig.Config
	// cfgMod is config.json's modification time, read with cfg.
	cfgMod time.Time
	st     *State
	stErr  error
	read   bool
	// versions: the store's version of each key read (Vault KV v2).
	versions map[string]int
}

func (v *view) state() (*State, error) {
	if !v.read {
		v.st, v.stErr = v.s.files().State()
		v.read = true
	}
	return v.st, v.stErr
}

func (v *view) storedKey(ctx context.Context, profile string) (string, error) {
	st, _ := v.state()
	src, _, err := v.s.sourceIn(st, profile)
	if err != nil {
		return "", err
	}
	if vs, ok := src.(VersionedSource); ok {
		key, ver, err := vs.GetVersion(ctx, profile)
		if err == nil {
			if v.versions == nil {
				v.versions = map[string]int{}
			}
			v.versions[profile] = ver
		}
		return key, err
	}
	return src.Get(ctx, profile)
}

// version is the store's version of the key storedKey read (0: none).
func (v *view) version(profile string) int { return v.versions[profile] }

func (v *view) plaintext(profile string) toraleconfig.Config {
	if v.cfg == nil {
		var c toraleconfig.Config
		st, _ := v.state()
		if st != nil && profile == st.ConfigOwner() {
			if snap, err := v.s.files().Config(); err == nil {
				c = snap.Config
				if snap.Info != nil {
					v.cfgMod = snap.Info.ModTime()
				}
			}
			c = st.throughEndpoint(c)
		}
		v.cfg = &c
	}
	return *v.cfg
}

// plaintextNewer: config.json holds a plaintext key for profile that was
// written after the profile's stored key, a move the watcher has not made
// yet (no daemon, or one with --no-watch). It is the key the user means:
// a watching daemon would store it, displacing the older one.
func (v *view) plaintextNewer(profile string) bool {
	if v.plaintext(profile).APIKey == "" || v.cfgMod.IsZero() {
		return false
	}
	st, _ := v.state()
	if st == nil || st.Profiles[profile] == nil {
		return true
	}
	return v.cfgMod.After(st.Profiles[profile].StoredAt)
}

func (v *view) profileURL(profile string) string {
	if st, _ := v.state(); st != nil {
		if p := st.Profiles[profile]; p != nil && p.APIURL != nil {
			return *p.APIURL
		}
	}
	return ""
}

func (v *view) rotation(profile string, period time.Duration) *Rotation {
	st, _ := v.state()
	if st == nil || st.Profiles[profile] == nil {
		return nil
	}
	r := RotationOf(*st.Profiles[profile], period, v.s.now())
	return &r
}

func (s *Store) period(seconds int64) time.Duration {
	switch {
	case seconds > 0:
		return time.Duration(seconds) * time.Second
	case s.Period > 0:
		return s.Period
	}
	return DefaultRotationPeriod
}

// Resolve implements Backend.
func (s *Store) Resolve(ctx context.Context, req Request) (Resolution, error) {
	p, err := ProfileOf(req.Profile, req.Env)
	if err != nil {
		return Resolution{}, err
	}
	req.Profile = p
	v := &view{s: s}
	r, err := resolve(ctx, req, v)
	if err != nil {
		return r, err
	}
	if err := s.handOut(ctx, v, &r); err != nil {
		return r, err
	}
	r.Rotation = v.rotation(p, s.period(req.RotateAfterSeconds))
	return r, nil
}

// Stored implements Backend: the keychain tier alone, with the URL the
// stored tiers name.
func (s *Store) Stored(ctx context.Context, profile string) (Resolution, error) {
	if err := CheckProfile(profile); err != nil {
		return Resolution{}, err
	}
	v := &view{s: s}
	r := Resolution{Profile: profile}
	var err error
	if r.URL, r.URLSource, err = resolveURL(Request{Profile: profile}, v); err != nil {
		return r, err
	}
	key, err := v.storedKey(ctx, profile)
	var se *storeerr.StoreError
	switch {
	case errors.Is(err, storeerr.ErrNotFound) && !errors.As(err, &se):
		return r, &NoKeyError{Profile: profile}
	case err != nil:
		return r, err
	}
	r.Key, r.KeySource = key, FromKeychain
	if err := s.handOut(ctx, v, &r); err != nil {
		return r, err
	}
	r.Rotation = v.rotation(profile, s.period(0))
	return r, nil
}

// List implements Backend.
//
// The keychain is asked too, as status asks it, so the two agree: a
// profile whose key the keychain no longer holds is Gone, and a key the
// keychain holds for "default" without metadata here (a fresh HOME on the
// same keychain) is listed as Unrecorded. A keychain that cannot answer
// marks nothing.
func (s *Store) List(ctx context.Context) ([]ProfileInfo, error) {
	st, err := s.files().State()
	if err != nil {
		return nil, err
	}
	now, period := s.now(), s.period(0)
	out := make([]ProfileInfo, 0, len(st.Profiles)+1)
	if _, remote := st.Stores[DefaultProfile]; st.Profiles[DefaultProfile] == nil && !remote {
		if k, err := s.Keychain.Get(ctx, DefaultProfile); err == nil && k != "" {
			out = append(out, ProfileInfo{Name: DefaultProfile, Profile: Profile{KeyHint: apikey.Hint(k)}, Unrecorded: true})
		}
	}
	for _, n := range st.Names() {
		p := *st.Profiles[n]
		r := RotationOf(p, period, now)
		info := ProfileInfo{Name: n, Profile: p, Rotation: &r, Displaced: st.Displaced[n]}
		if pol, ok := st.Policies[n]; ok {
			info.Policy = &pol
		}
		src, spec, err := s.sourceIn(st, n)
		if err == nil && spec != nil {
			info.Store = storeInfo(*spec, src, n)
		} else if _, err := s.Keychain.Get(ctx, n); errors.Is(err, storeerr.ErrNotFound) {
			info.Gone = true
		}
		out = append(out, info)
	}
	// A profile whose store is set but whose key was never read here.
	for _, n := range slices.Sorted(maps.Keys(st.Stores)) {
		spec := st.Stores[n]
		if st.Profiles[n] != nil || !spec.Remote() {
			continue
		}
		src, _, _ := s.sourceIn(st, n)
		out = append(out, ProfileInfo{Name: n, Store: storeInfo(spec, src, n)})
	}
	return out, nil
}

// Put implements Backend: it stores key, reads it back to be sure the
// keychain holds it, then records the metadata. A key that differs from
// the stored one restarts the rotation clock and remembers the old key's
// hint.
func (s *Store) Put(ctx context.Context, profile, key string, o PutOptions) (ProfileInfo, error) {
	if o.APIURL != nil && *o.APIURL != "" {
		if err := CheckURL(*o.APIURL, "--api-url"); err != nil {
			return ProfileInfo{}, err
		}
	}
	if err := CheckProfile(profile); err != nil {
		return ProfileInfo{}, err
	}
	// A write through a door is judged and recorded, unless it would leave
	// the keychain as it is (git stores the key it was given after every
	// use).
	if door := DoorFrom(ctx); door != "" && apikey.Valid(key) {
		if old, err := (&view{s: s}).storedKey(ctx, profile); err != nil || old != key {
			if err := s.judge(ctx, &view{s: s}, profile, door, apikey.Hint(key), audit.ActionStore); err != nil {
				return ProfileInfo{}, err
			}
		}
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	// The key a rotation replaces is revoked on the server: nothing to keep.
	via := o.Source
	if via == "" {
		via = SourceLogin
	}
	if via == SourceRotate {
		via = ""
	}
	old, err := s.putKeychain(ctx, profile, key, via)
	if err != nil {
		return ProfileInfo{}, err
	}
	if err := s.recordPut(profile, key, old, o); err != nil {
		return ProfileInfo{}, err
	}
	return s.info(profile), nil
}

func (s *Store) info(profile string) ProfileInfo {
	st, err := s.files().State()
	if err != nil || st.Profiles[profile] == nil {
		return ProfileInfo{Name: profile}
	}
	p := *st.Profiles[profile]
	r := RotationOf(p, s.period(0), s.now())
	return ProfileInfo{Name: profile, Profile: p, Rotation: &r}
}

// errRaced: the read-back found another program's key, not an outage.
var errRaced = errors.New("another program changed this profile's key while torale-cred stored it; run the command again")

// putKeychain stores and reads back; the caller holds writeMu. It returns
// the key the keychain held before ("" for none). With via (how key
// arrived: a state.json source), a different key held before is kept first
// (keepDisplaced), and copies kept of key itself are dropped after.
func (s *Store) putKeychain(ctx context.Context, profile, key, via string) (string, error) {
	if err := CheckProfile(profile); err != nil {
		return "", err
	}
	if !apikey.Valid(key) {
		_, err := apikey.Parse(key)
		if err == nil {
			err = fmt.Errorf("%w: it has white space around it", apikey.ErrBadKey)
		}
		return "", err
	}
	st, _ := s.files().State()
	src, spec, err := s.sourceIn(st, profile)
	if err != nil {
		return "", err
	}
	if spec != nil && via == SourceConfig {
		// A stale config.json (a backup, a dotfile sync) must not become
		// the key every machine following the store serves.
		return "", fmt.Errorf("%w: profile %q's key lives in %s, so a plaintext key in config.json is not moved there; remove it from config.json, or write it to the store yourself", storeerr.ErrReadOnly, profile, spec.Where())
	}
	old, err := src.Get(ctx, profile)
	if err != nil && !errors.Is(err, storeerr.ErrNotFound) {
		return "", err
	}
	if via != "" && spec == nil {
		// Kept in this machine's keychain: never a remote store's key,
		// which must not land on local disk.
		if err := s.keepDisplaced(ctx, profile, old, key, via); err != nil {
			return "", err
		}
	}
	if err := src.Set(ctx, profile, key); err != nil {
		return "", err
	}
	back, err := src.Get(ctx, profile)
	if err != nil {
		return "", fmt.Errorf("reading the key back after storing it: %w", err)
	}
	if back != key {
		return "", errRaced
	}
	if via != "" && old != key && spec == nil {
		s.dropRestored(ctx, profile, key)
	}
	return old, nil
}

// recordPut is the metadata of key, which replaced old.
func (s *Store) recordPut(profile, key, old string, o PutOptions) error {
	defer s.files().Reload()
	return s.StateFile.Update(func(st *State) error {
		p := st.Profiles[profile]
		changed := p == nil || old != key
		if p == nil {
			p = &Profile{}
			st.Profiles[profile] = p
		}
		if changed {
			if old != "" && old != key {
				p.PreviousKeyHint = apikey.Hint(old)
			}
			p.KeyHint = apikey.Hint(key)
			p.StoredAt = s.now()
			p.CreatedAt, p.KeyID = o.CreatedAt, o.KeyID
			p.LastRemindedAt = nil
			p.Source = o.Source
			if p.Source == "" {
				p.Source = SourceLogin
			}
		} else {
			if o.CreatedAt != nil {
				p.CreatedAt = o.CreatedAt
			}
			if o.KeyID != nil {
				p.KeyID = o.KeyID
			}
		}
		if o.APIURL != nil {
			p.APIURL = o.APIURL
			if *o.APIURL == "" {
				p.APIURL = nil
			}
		}
		return nil
	})
}

// Delete implements Backend: it removes profile's key and metadata;
// storeerr.ErrNotFound (a *NoKeyError) when the keychain held no key (the metadata
// is dropped all the same).
func (s *Store) Delete(ctx context.Context, profile string) error {
	if err := CheckProfile(profile); err != nil {
		return err
	}
	if door := DoorFrom(ctx); door != "" {
		v := &view{s: s}
		hint := ""
		if st, _ := v.state(); st != nil && st.Profiles[profile] != nil {
			hint = st.Profiles[profile].KeyHint
		}
		if err := s.judge(ctx, v, profile, door, hint, audit.ActionRemove); err != nil {
			return err
		}
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	st, _ := s.files().State()
	src, _, err := s.sourceIn(st, profile)
	if err != nil {
		return err
	}
	kerr := src.Delete(ctx, profile)
	if kerr != nil && !errors.Is(kerr, storeerr.ErrNotFound) {
		return kerr
	}
	err = s.StateFile.Update(func(st *State) error { delete(st.Profiles, profile); return nil })
	s.files().Reload()
	if err != nil {
		return err
	}
	if kerr != nil {
		return &NoKeyError{Profile: profile}
	}
	return nil
}

// Health implements Backend.
func (s *Store) Health(ctx context.Context) error { return s.Keychain.Ping(ctx) }

// UpdateState applies fn to state.json (the reminder's bookkeeping,
// created_at look-ups) and refreshes what the Store sees.
func (s *Store) UpdateState(fn func(*State) error) error {
	defer s.files().Reload()
	return s.StateFile.Update(fn)
}
