// Package credstore is where Torale keys live and how a key is chosen: the
// OS keychain (one item per profile, service "torale"), the non-secret
// metadata beside it, and the flag > environment > stored resolver. It never
// listens on a socket and never writes a key anywhere but the keychain.
package credstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/torale-ai/torale-cred/internal/toraleconfig"
)

// DefaultProfile is used when neither --profile nor TORALE_PROFILE names one.
const DefaultProfile = "default"

// ErrBadProfile is wrapped when a profile name is not acceptable.
var ErrBadProfile = errors.New("invalid profile name")

// CheckProfile refuses names that could not be a keychain account or a
// git username: 1 to 64 letters, digits, '.', '_' or '-'.
func CheckProfile(name string) error {
	if !validProfileName(name) {
		return fmt.Errorf("%w %q: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", ErrBadProfile, name)
	}
	return nil
}

// Store is the keychain together with its metadata and the plaintext
// config.json it may fall back to (read only).
type Store struct {
	Keychain *Keychain
	State    StateFile
	// ConfigPath is the official tools' config.json.
	ConfigPath string
	// ConfigProfile is the profile config.json's key belongs to.
	ConfigProfile string
	// Now is the clock, replaceable in tests.
	Now func() time.Time
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// StoredKey implements Tiers.
func (s *Store) StoredKey(ctx context.Context, profile string) (string, error) {
	return s.Keychain.Get(ctx, profile)
}

// Plaintext implements Tiers: config.json when it belongs to profile and
// can be read; a malformed or missing file contributes nothing.
func (s *Store) Plaintext(profile string) toraleconfig.Config {
	if s.ConfigPath == "" || profile != s.configProfile() {
		return toraleconfig.Config{}
	}
	c, _, err := toraleconfig.Read(s.ConfigPath)
	if err != nil {
		return toraleconfig.Config{}
	}
	return c
}

func (s *Store) configProfile() string {
	if s.ConfigProfile == "" {
		return DefaultProfile
	}
	return s.ConfigProfile
}

// ProfileURL implements Tiers.
func (s *Store) ProfileURL(profile string) string {
	st, err := s.State.Load()
	if err != nil {
		return ""
	}
	if p := st.Profiles[profile]; p != nil && p.APIURL != nil {
		return *p.APIURL
	}
	return ""
}

// PutOptions describe where a key came from.
type PutOptions struct {
	Source    string
	CreatedAt *time.Time // from the server, when known
	KeyID     *string
	APIURL    *string // remembered for the git helper and the URL order
}

// Put stores key for profile, reads it back to be sure the keychain holds
// it, then records the metadata. A key that differs from the stored one
// restarts the rotation clock and remembers the old key's hint.
func (s *Store) Put(ctx context.Context, profile, key string, o PutOptions) error {
	old, err := s.putKeychain(ctx, profile, key)
	if err != nil {
		return err
	}
	return s.recordPut(profile, key, old, o)
}

// putKeychain is Put's first half: store and read back. It returns the key
// the keychain held before ("" for none).
func (s *Store) putKeychain(ctx context.Context, profile, key string) (string, error) {
	if err := CheckProfile(profile); err != nil {
		return "", err
	}
	if !ValidKey(key) {
		_, err := ParseKey(key)
		return "", err
	}
	old, err := s.Keychain.Get(ctx, profile)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return "", err
	}
	if err := s.Keychain.Set(ctx, profile, key); err != nil {
		return "", err
	}
	back, err := s.Keychain.Get(ctx, profile)
	if err != nil {
		return "", fmt.Errorf("reading the key back after storing it: %w", err)
	}
	if back != key {
		return "", &KeychainError{Fault: FaultUnavailable, Reason: "the keychain returned a different key after storing it"}
	}
	return old, nil
}

// recordPut is Put's second half: the metadata of key, which replaced old.
func (s *Store) recordPut(profile, key, old string, o PutOptions) error {
	return s.State.Update(func(st *State) error {
		p := st.Profiles[profile]
		changed := p == nil || old != key
		if p == nil {
			p = &Profile{}
			st.Profiles[profile] = p
		}
		if changed {
			if old != "" && old != key {
				p.PreviousKeyHint = Hint(old)
			}
			p.KeyHint = Hint(key)
			p.StoredAt = s.now()
			p.CreatedAt, p.KeyID = o.CreatedAt, o.KeyID
			p.LastRemindedAt = nil
			p.Source = o.Source
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
		}
		return nil
	})
}

// Delete removes profile's key and metadata. ErrNotFound when the keychain
// held no key (the metadata is dropped all the same).
func (s *Store) Delete(ctx context.Context, profile string) error {
	if err := CheckProfile(profile); err != nil {
		return err
	}
	kerr := s.Keychain.Delete(ctx, profile)
	if kerr != nil && !errors.Is(kerr, ErrNotFound) {
		return kerr
	}
	if err := s.State.Update(func(st *State) error { delete(st.Profiles, profile); return nil }); err != nil {
		return err
	}
	return kerr
}

// Metadata returns the metadata of every profile.
func (s *Store) Metadata() (*State, error) { return s.State.Load() }

// Resolve runs the resolver against this store.
func (s *Store) Resolve(ctx context.Context, req Request) (Resolution, error) {
	return Resolve(ctx, req, s)
}
