package credstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/credentials"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/credstore/vault"
	"github.com/torale-ai/torale-cred/internal/vaultkv"
)

// Stores a profile's key can live in (state.json's "stores").
const (
	StoreKeychain    = "keychain"
	StoreVault       = "vault"
	StoreCredentials = "credentials"
)

// StoreSpec is where a profile's key lives when not in this machine's
// keychain, recorded in state.json: addresses, paths and file names only,
// never a token or a key.
type StoreSpec struct {
	Kind  string      `json:"kind"`
	Vault *vault.Spec `json:"vault,omitempty"`
	// Credential is the file's name in $CREDENTIALS_DIRECTORY.
	Credential string `json:"credential,omitempty"`
}

// Remote: the key lives beyond this machine's keychain.
func (s StoreSpec) Remote() bool { return s.Kind != "" && s.Kind != StoreKeychain }

// Where names the store for status lines: "vault secret/torale/p at https://…".
func (s StoreSpec) Where() string {
	switch s.Kind {
	case StoreVault:
		if s.Vault == nil {
			return "vault (not configured)"
		}
		return s.Vault.Where()
	case StoreCredentials:
		return credentials.Where(s.CredentialName())
	}
	return "the keychain"
}

// CredentialName is the file read in $CREDENTIALS_DIRECTORY.
func (s StoreSpec) CredentialName() string {
	if s.Credential != "" {
		return s.Credential
	}
	return credentials.DefaultName
}

// CheckStoreSpec refuses a spec that cannot be used.
func CheckStoreSpec(s StoreSpec) error {
	switch s.Kind {
	case StoreKeychain:
		return nil
	case StoreVault:
		v := s.Vault
		if v == nil || v.Addr == "" {
			return fmt.Errorf("%w: a vault store needs an address: --addr or VAULT_ADDR", ErrBadRequest)
		}
		if err := CheckURL(v.Addr, "the Vault address"); err != nil {
			return err
		}
		if v.Mount == "" || v.Path == "" || strings.HasPrefix(v.Path, "/") || strings.Contains(v.Mount, "/data") {
			return fmt.Errorf("%w: a vault store needs the KV v2 mount (--mount secret) and the secret's path in it (--path torale/NAME), without \"data/\"", ErrBadRequest)
		}
		if (v.RoleIDFile == "") != (v.SecretIDFile == "") {
			return fmt.Errorf("%w: AppRole needs both --approle-role-id-file and --approle-secret-id-file", ErrBadRequest)
		}
		for _, f := range []string{v.CACert, v.TokenFile, v.RoleIDFile, v.SecretIDFile} {
			if f != "" && !filepath.IsAbs(f) {
				return fmt.Errorf("%w: %q is not an absolute path (the daemon reads it from another directory)", ErrBadRequest, f)
			}
		}
		return nil
	case StoreCredentials:
		if n := s.CredentialName(); strings.ContainsAny(n, "/\x00") || n == "." || n == ".." {
			return fmt.Errorf("%w: %q is not a credential name (a file name in $CREDENTIALS_DIRECTORY)", ErrBadRequest, n)
		}
		return nil
	}
	return fmt.Errorf("%w: the store is keychain, vault or credentials, not %q", ErrBadRequest, s.Kind)
}

// VersionedSource is a Source whose keys have versions (Vault KV v2): the
// hand-out point records the version served in the trail.
type VersionedSource interface {
	Source
	GetVersion(ctx context.Context, profile string) (key string, version int, err error)
}

// StoreStatus is a remote store's state for status and /v1/health.
type StoreStatus struct {
	// State is "ok", or "unavailable: " and why (the last key is still
	// served when Version is set).
	State   string `json:"state"`
	Version int    `json:"version,omitempty"`
	// Since: when the store started failing.
	Since *time.Time `json:"since,omitempty"`
}

// StatusSource is a Source that knows its store's state without asking
// it (the daemon's followers).
type StatusSource interface {
	StoreStatus(profile string) StoreStatus
}

// StoreInfo is the store of one profile in `list`, `status` and
// GET /v1/credentials.
type StoreInfo struct {
	Kind  string `json:"kind"`
	Where string `json:"where"`
	Login string `json:"login,omitempty"`
	StoreStatus
}

// RemoteOpener gives the Source of a profile whose key lives in spec.
type RemoteOpener func(profile string, spec StoreSpec) (Source, error)

// OpenStore is the Source for spec in a process that reads it once per
// look-up (a command answering itself); the daemon follows instead.
func OpenStore(spec StoreSpec, getenv func(string) string) (Source, error) {
	switch spec.Kind {
	case StoreVault:
		if spec.Vault == nil {
			return nil, fmt.Errorf("%w: the vault store has no address or path", ErrBadRequest)
		}
		c, err := vaultkv.New(vault.Config(*spec.Vault, getenv))
		if err != nil {
			return nil, err
		}
		return &vault.Source{C: c}, nil
	case StoreCredentials:
		return &credentials.Source{Dir: getenv("CREDENTIALS_DIRECTORY"), Name: spec.CredentialName()}, nil
	}
	return nil, fmt.Errorf("%w: unknown store %q", ErrBadRequest, spec.Kind)
}

type openedRemote struct {
	spec StoreSpec
	src  Source
}

// sourceIn is the Source holding profile's key by st's stores: the
// keychain (spec nil), or the remote store named there, opened once per
// spec. A state that cannot be read means the keychain, as before stores.
func (s *Store) sourceIn(st *State, profile string) (Source, *StoreSpec, error) {
	if st == nil {
		return s.Keychain, nil, nil
	}
	spec, ok := st.Stores[profile]
	if !ok || !spec.Remote() {
		return s.Keychain, nil, nil
	}
	s.remoteMu.Lock()
	defer s.remoteMu.Unlock()
	if o, ok := s.remotes[profile]; ok && reflect.DeepEqual(o.spec, spec) {
		return o.src, &spec, nil
	}
	open := s.Remote
	if open == nil {
		open = func(_ string, spec StoreSpec) (Source, error) { return OpenStore(spec, os.Getenv) }
	}
	src, err := open(profile, spec)
	if err != nil {
		return nil, &spec, &storeerr.StoreError{Profile: profile, Err: fmt.Errorf("opening %s: %w", spec.Where(), err)}
	}
	if s.remotes == nil {
		s.remotes = map[string]openedRemote{}
	}
	s.remotes[profile] = openedRemote{spec: spec, src: src}
	return src, &spec, nil
}

// StoreOf is the store state.json names for profile (Kind keychain when none).
func (s *Store) StoreOf(profile string) StoreSpec {
	st, err := s.files().State()
	if err != nil || st.Stores == nil {
		return StoreSpec{Kind: StoreKeychain}
	}
	if spec, ok := st.Stores[profile]; ok {
		return spec
	}
	return StoreSpec{Kind: StoreKeychain}
}

func storeInfo(spec StoreSpec, src Source, profile string) *StoreInfo {
	in := &StoreInfo{Kind: spec.Kind, Where: spec.Where()}
	if spec.Vault != nil {
		in.Login = vault.Config(*spec.Vault, os.Getenv).Login()
	}
	if ss, ok := src.(StatusSource); ok {
		in.StoreStatus = ss.StoreStatus(profile)
	}
	return in
}

// OpenRemotes opens every remote store state.json names and reads each
// key once, so a daemon starts following them at once and its first
// look-ups are served from memory. Failures are left to the look-ups and
// the stores' status.
func (s *Store) OpenRemotes(ctx context.Context) {
	st, err := s.files().State()
	if err != nil {
		return
	}
	for _, n := range slices.Sorted(maps.Keys(st.Stores)) {
		if ctx.Err() != nil {
			return
		}
		if src, spec, err := s.sourceIn(st, n); err == nil && spec != nil {
			_, _ = src.Get(ctx, n)
		}
	}
}

// Sources of a key recorded when a store is set (state.json's "source").
const (
	SourceVault       = StoreVault
	SourceCredentials = StoreCredentials
)

// StoreCheck is what SetStore found reading the key through the store.
type StoreCheck struct {
	Checked bool
	KeyHint string
	Version int
	// Local is what became of this machine's keychain copy when the
	// store moved beyond the machine; LocalHint names that copy's key and
	// LocalErr why it was left.
	Local     LocalCopy
	LocalHint string
	LocalErr  error
}

// LocalCopy is what SetStore did with the keychain's copy of a profile's
// key once the profile reads it from a store beyond this machine, which
// must hold the key alone (never local disk, SPEC).
type LocalCopy int

const (
	NoLocalCopy        LocalCopy = iota
	LocalCopyRemoved             // the store's own key: deleted
	LocalCopyShelved             // another key: kept as the previous key (login --previous), then deleted
	LocalCopyLeft                // held, and could not be deleted (LocalErr)
	LocalCopyUnchecked           // the keychain did not answer whether it holds one (LocalErr)
)

// SetStore records where profile's key lives (Kind keychain: this
// machine's keychain again). With check, the key is read once through
// spec first, with getenv's Vault environment, and nothing is recorded
// when that fails; the key's hint becomes the profile's metadata. Neither
// a token nor the key is written anywhere.
func (s *Store) SetStore(ctx context.Context, profile string, spec StoreSpec, check bool, getenv func(string) string) (StoreCheck, error) {
	if err := CheckProfile(profile); err != nil {
		return StoreCheck{}, err
	}
	if err := CheckStoreSpec(spec); err != nil {
		return StoreCheck{}, err
	}
	var res StoreCheck
	var key string
	if check {
		var src Source = s.Keychain
		if spec.Remote() {
			var err error
			if src, err = OpenStore(spec, getenv); err != nil {
				return res, err
			}
		}
		var err error
		if vs, ok := src.(VersionedSource); ok {
			key, res.Version, err = vs.GetVersion(ctx, profile)
		} else {
			key, err = src.Get(ctx, profile)
		}
		switch {
		case err == nil:
			res.Checked, res.KeyHint = true, apikey.Hint(key)
		case !spec.Remote() && errors.Is(err, storeerr.ErrNotFound):
			res.Checked = true // the keychain holds none: login stores one
		default:
			return res, err
		}
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	defer s.files().Reload()
	err := s.StateFile.Update(func(st *State) error {
		if spec.Remote() {
			if st.Stores == nil {
				st.Stores = map[string]StoreSpec{}
			}
			st.Stores[profile] = spec
		} else {
			delete(st.Stores, profile)
		}
		if !res.Checked {
			return nil
		}
		p := st.Profiles[profile]
		switch {
		case res.KeyHint == "":
			delete(st.Profiles, profile)
		case p == nil || p.KeyHint != res.KeyHint:
			src := spec.Kind
			if !spec.Remote() {
				src = SourceLogin
			}
			np := &Profile{KeyHint: res.KeyHint, StoredAt: s.now(), Source: src}
			if p != nil {
				np.APIURL, np.PreviousKeyHint = p.APIURL, p.KeyHint
			}
			st.Profiles[profile] = np
		}
		return nil
	})
	if err != nil || !spec.Remote() || key == "" {
		return res, err
	}
	res.Local, res.LocalHint, res.LocalErr = s.dropLocalCopy(ctx, profile, key, spec.Kind)
	return res, nil
}

// dropLocalCopy deletes this machine's keychain copy of profile's key,
// now that the profile reads key from a store beyond the machine (kind);
// the caller holds writeMu. A copy that is another key is kept on the
// shelf first (login --previous brings it back), so no key is lost at any
// instant. A keychain that does not answer leaves any copy, said.
func (s *Store) dropLocalCopy(ctx context.Context, profile, key, kind string) (LocalCopy, string, error) {
	if s.Keychain == nil {
		return NoLocalCopy, "", nil
	}
	old, err := s.Keychain.Get(ctx, profile)
	switch {
	case errors.Is(err, storeerr.ErrNotFound):
		return NoLocalCopy, "", nil
	case err != nil:
		return LocalCopyUnchecked, "", err
	}
	done := LocalCopyRemoved
	if old != key {
		if s.shelf() == nil {
			return LocalCopyLeft, apikey.Hint(old), errors.New("it is another key, and this process keeps no previous keys")
		}
		if err := s.keepDisplaced(ctx, profile, old, key, kind); err != nil {
			return LocalCopyLeft, apikey.Hint(old), err
		}
		done = LocalCopyShelved
	}
	if err := s.Keychain.Delete(ctx, profile); err != nil && !errors.Is(err, storeerr.ErrNotFound) {
		return LocalCopyLeft, apikey.Hint(old), err
	}
	return done, apikey.Hint(old), nil
}

// CheckWritable says, before a rotation creates a key it could not store,
// whether profile's store takes a new key from this process: the keychain
// (nil), a Vault login that may write (nil), else why not, with the fix.
// Asked with this process's environment (the daemon logs in with the same
// files; only VAULT_TOKEN may differ).
func (s *Store) CheckWritable(ctx context.Context, profile string, getenv func(string) string) error {
	spec := s.StoreOf(profile)
	switch spec.Kind {
	case StoreCredentials:
		return (&credentials.Source{Name: spec.CredentialName()}).Set(ctx, profile, "")
	case StoreVault:
		if spec.Vault == nil {
			return nil
		}
		c, err := vaultkv.New(vault.Config(*spec.Vault, getenv))
		if err != nil {
			return err
		}
		ok, err := c.CanWrite(ctx)
		if err != nil {
			return &storeerr.StoreError{Profile: profile, Err: err}
		}
		if !ok {
			cfg := c.Config()
			return fmt.Errorf("%w: profile %q's key lives in Vault (%s), and this machine's Vault login (%s) may only read it, so a rotation here would create a key it cannot store; rotate on a machine whose login may write (create and update on %s), or rotate in the dashboard and write the new key: vault kv put -mount=%s %s api_key=-",
				storeerr.ErrReadOnly, profile, cfg.Where(), cfg.Login(), cfg.DataPath(), cfg.Mount, cfg.Path)
		}
	}
	return nil
}
