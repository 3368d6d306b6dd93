package credstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/internal/safetext"
)

// Displaced keys (SPEC: Plaintext key displaced). When a key arrives for a
// profile whose stored key differs (a stale config.json back from a backup,
// an import, a login), the key it replaces is not destroyed: it is kept in
// the same keychain beside the profile's entry, under the service
// "<service>.previous" (torale.previous) and the account
// "<profile>/<when it was displaced>", and state.json's "displaced" names
// it, until `torale-cred login --previous` brings it back or `torale-cred
// logout --previous` forgets it. A rotation, which revokes the key it
// replaces on the server, keeps nothing.

// DisplacedKey is one kept key's metadata (never the key): where it is in
// the keychain, and what it was before it was displaced, so bringing it
// back restores its age.
type DisplacedKey struct {
	// Account is its keychain account under the "<service>.previous" service.
	Account     string    `json:"account"`
	KeyHint     string    `json:"key_hint"`
	DisplacedAt time.Time `json:"displaced_at"`
	// By is the hint of the key that took its place, and Via how that key
	// arrived (a state.json source: config, login, git).
	By  string `json:"replaced_by"`
	Via string `json:"replaced_via"`
	// Its own metadata when it was the profile's key.
	Source    string     `json:"source,omitempty"`
	StoredAt  time.Time  `json:"stored_at,omitzero"`
	CreatedAt *time.Time `json:"created_at,omitempty"`
	KeyID     *string    `json:"key_id,omitempty"`
}

// KeptMessage is the one sentence, for status, the log and every command,
// that says a replaced key is kept and how to bring it back or forget it.
func KeptMessage(profile, hint string) string {
	return fmt.Sprintf("%s is kept in the keychain: to bring it back, run: %s (torale-cred logout --previous --profile %s forgets it)", hint, RestoreCommand(profile, ""), profile)
}

// RestoreCommand is the command that brings back profile's kept key with
// hint ("": the most recent).
func RestoreCommand(profile, hint string) string {
	if hint == "" {
		return "torale-cred login --previous --profile " + profile
	}
	return "torale-cred login --previous=" + hint + " --profile " + profile
}

// ErrNoPrevious: the profile has no kept key.
var ErrNoPrevious = errors.New("no replaced key is kept")

// shelf is where displaced keys go: Store.Shelf, else the keychain's own
// shelf when the Store holds the keychain itself; nil when another process
// (the daemon) writes this Store's keys and keeps them itself.
func (s *Store) shelf() Source {
	if s.Shelf != nil {
		return s.Shelf
	}
	if k, ok := s.Keychain.(*keychain.Keychain); ok {
		return k.Shelf()
	}
	return nil
}

// keepDisplaced puts old, which key is about to replace for profile, on
// the shelf and records it, before the caller overwrites it: a crash at
// any instant leaves old in the profile's entry, on the shelf, or both.
// A key already kept is not kept twice. The caller holds writeMu.
func (s *Store) keepDisplaced(ctx context.Context, profile, old, key, via string) error {
	shelf := s.shelf()
	if shelf == nil || old == "" || old == key {
		return nil
	}
	st, err := s.files().State()
	if err != nil {
		return fmt.Errorf("keeping the key it replaces (%s): %w", apikey.Hint(old), err)
	}
	for _, d := range st.Displaced[profile] {
		if d.KeyHint == apikey.Hint(old) {
			if k, err := shelf.Get(ctx, d.Account); err == nil && k == old {
				return nil
			}
		}
	}
	now := s.now()
	d := DisplacedKey{Account: profile + "/" + now.Format("20060102T150405.000000000Z"), KeyHint: apikey.Hint(old),
		DisplacedAt: now, By: apikey.Hint(key), Via: via}
	if p := st.Profiles[profile]; p != nil && p.KeyHint == apikey.Hint(old) {
		d.Source, d.StoredAt, d.CreatedAt, d.KeyID = p.Source, p.StoredAt, p.CreatedAt, p.KeyID
	}
	if err := shelf.Set(ctx, d.Account, old); err != nil {
		return fmt.Errorf("keeping the key it replaces (%s) failed, so nothing changed: %w", apikey.Hint(old), err)
	}
	if back, err := shelf.Get(ctx, d.Account); err != nil || back != old {
		if err == nil {
			err = errRaced
		}
		return fmt.Errorf("keeping the key it replaces (%s) failed, so nothing changed: %w", apikey.Hint(old), err)
	}
	// The key is safe on the shelf: a state.json that cannot be written
	// (which also fails the metadata after this put) leaves it unnamed,
	// not lost, and must not stop a put that puts a key back (a
	// rotation's undo).
	defer s.files().Reload()
	if err := s.StateFile.Update(func(st *State) error {
		if st.Displaced == nil {
			st.Displaced = map[string][]DisplacedKey{}
		}
		st.Displaced[profile] = append(st.Displaced[profile], d)
		return nil
	}); err != nil {
		s.warnf("kept %s, which %s replaces for profile %q, in the keychain (service torale%s, account %q), but recording it in state.json failed: %v",
			apikey.Hint(old), apikey.Hint(key), profile, keychain.ShelfSuffix, d.Account, err)
	}
	return nil
}

// dropRestored forgets the kept copies of key, now the profile's key
// again (a stale key that came back, login --previous). Failures leave a
// spare copy, never a lost key, and are only warned about.
func (s *Store) dropRestored(ctx context.Context, profile, key string) {
	shelf := s.shelf()
	st, err := s.files().State()
	if shelf == nil || err != nil {
		return
	}
	var gone []string
	for _, d := range st.Displaced[profile] {
		if d.KeyHint != apikey.Hint(key) {
			continue
		}
		if k, err := shelf.Get(ctx, d.Account); err == nil && k == key {
			if err := shelf.Delete(ctx, d.Account); err == nil || errors.Is(err, storeerr.ErrNotFound) {
				gone = append(gone, d.Account)
			}
		}
	}
	if len(gone) > 0 {
		s.forgetRecords(profile, gone)
	}
}

// forgetRecords drops the named accounts from state.json.
func (s *Store) forgetRecords(profile string, accounts []string) error {
	defer s.files().Reload()
	return s.StateFile.Update(func(st *State) error {
		var left []DisplacedKey
		for _, d := range st.Displaced[profile] {
			drop := false
			for _, a := range accounts {
				drop = drop || d.Account == a
			}
			if !drop {
				left = append(left, d)
			}
		}
		if len(left) == 0 {
			delete(st.Displaced, profile)
		} else {
			st.Displaced[profile] = left
		}
		return nil
	})
}

// Previous is a displaced key of profile and its record, read from this
// process's keychain (login --previous then stores it back through a door,
// which keeps the key it replaces in turn): the one whose hint is hint
// (sk_...ABCDE, or its last 5 characters), or with hint "" the most recent.
// ErrNoPrevious when none is kept, or none has that hint.
func (s *Store) Previous(ctx context.Context, profile, hint string) (string, DisplacedKey, error) {
	if err := CheckProfile(profile); err != nil {
		return "", DisplacedKey{}, err
	}
	st, err := s.files().State()
	if err != nil {
		return "", DisplacedKey{}, err
	}
	list := st.Displaced[profile]
	shelf := s.shelf()
	if len(list) == 0 || shelf == nil {
		return "", DisplacedKey{}, fmt.Errorf("%w for profile %q", ErrNoPrevious, profile)
	}
	d := list[len(list)-1]
	if hint != "" {
		found := false
		for _, c := range list {
			if c.KeyHint == hint || c.KeyHint == "sk_..."+hint {
				d, found = c, true
			}
		}
		if !found {
			return "", DisplacedKey{}, fmt.Errorf("%w for profile %q with the hint %q; status names the kept ones", ErrNoPrevious, profile, safetext.Text(hint, 20))
		}
	}
	key, err := shelf.Get(ctx, d.Account)
	switch {
	case errors.Is(err, storeerr.ErrNotFound):
		return "", d, fmt.Errorf("the keychain no longer holds the kept key %s for profile %q (removed with another keychain tool?); run: torale-cred logout --previous --profile %s to forget its record", d.KeyHint, profile, profile)
	case err != nil:
		return "", d, err
	case !apikey.Valid(key):
		return "", d, fmt.Errorf("%w: the kept key for profile %q is not a Torale key", apikey.ErrBadKey, profile)
	}
	return key, d, nil
}

// ForgetDisplaced removes every key kept for profile from the keychain and
// state.json, and returns their records.
func (s *Store) ForgetDisplaced(ctx context.Context, profile string) ([]DisplacedKey, error) {
	if err := CheckProfile(profile); err != nil {
		return nil, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	st, err := s.files().State()
	if err != nil {
		return nil, err
	}
	list := st.Displaced[profile]
	if len(list) == 0 {
		return nil, nil
	}
	shelf := s.shelf()
	if shelf == nil {
		return nil, errors.New("this process cannot reach the keychain's kept keys")
	}
	var gone []string
	var forgot []DisplacedKey
	for _, d := range list {
		err := shelf.Delete(ctx, d.Account)
		if err != nil && !errors.Is(err, storeerr.ErrNotFound) {
			s.forgetRecords(profile, gone)
			return forgot, fmt.Errorf("removing the kept key %s: %w", d.KeyHint, err)
		}
		gone, forgot = append(gone, d.Account), append(forgot, d)
	}
	return forgot, s.forgetRecords(profile, gone)
}
