// Package storeerr holds what every store of keys answers instead of a key
// (the keychain, Vault, systemd credentials): no key, cannot answer,
// read-only. It is the lowest package that needs them, so each store and
// the Store above them share one name for each; callers decide exit codes
// and HTTP statuses with errors.Is, never by reading text.
package storeerr

import (
	"errors"
	"fmt"

	"github.com/torale-ai/torale-cred/internal/vaultkv"
)

var (
	// ErrNotFound: the store answered and holds no key for the profile.
	ErrNotFound = errors.New("no API key configured")
	// ErrKeychain is wrapped by every failure to reach or use the keychain,
	// or another store (StoreError). It is never "no key".
	ErrKeychain = errors.New("keychain unavailable")
	// ErrReadOnly: the profile's store cannot be written by torale-cred.
	ErrReadOnly = errors.New("read-only store")
)

// StoreError is a remote store's failure: "unavailable" (ErrKeychain: exit
// 4, 503, never "no key") unless the store answered that it holds no key.
type StoreError struct {
	Profile string
	Err     error
	// NoKey: the store answered that it holds no key (a credential
	// systemd did not pass), as a Vault secret that is not there does.
	NoKey bool
}

func (e *StoreError) Error() string { return e.Err.Error() }
func (e *StoreError) Unwrap() error { return e.Err }
func (e *StoreError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.NoKey || errors.Is(e.Err, vaultkv.ErrNotFound)
	case ErrKeychain:
		return !e.NoKey && !errors.Is(e.Err, vaultkv.ErrNotFound)
	}
	return false
}

// NotDeleted is a remote store's answer to Delete: torale-cred never
// deletes a key it does not own; where names the store (StoreSpec.Where).
func NotDeleted(profile, where string) error {
	return fmt.Errorf("%w: profile %q's key lives in %s, which torale-cred does not delete; to stop using it on this machine, run: torale-cred store set keychain --profile %s",
		ErrReadOnly, profile, where, profile)
}
