package credstore

import (
	"context"
	"time"
)

// Backend is the one seam every door looks keys up through: the socket
// server serves one, the CLI and the git helper call one, and the daemon's
// client (ipc.Client) is one too, so an answer cannot depend on the door.
// *Store is the local implementation.
//
// Errors are told apart with errors.Is: storeerr.ErrNotFound (no key),
// storeerr.ErrKeychain (unavailable, locked, timed out: never "no key"),
// apikey.ErrBadKey, ErrBadProfile, ErrBadURL and ErrBadRequest.
type Backend interface {
	// Resolve applies flag > environment > stored to the caller's request.
	Resolve(ctx context.Context, req Request) (Resolution, error)
	// Stored is the keychain tier alone for profile, with its URL.
	Stored(ctx context.Context, profile string) (Resolution, error)
	// List is every profile's metadata, never a key.
	List(ctx context.Context) ([]ProfileInfo, error)
	// Put stores key for profile and returns the profile's new metadata.
	Put(ctx context.Context, profile, key string, o PutOptions) (ProfileInfo, error)
	// Delete removes profile's key and metadata (storeerr.ErrNotFound: there was no key).
	Delete(ctx context.Context, profile string) error
	// Health is nil when the keychain answers, else why it does not.
	Health(ctx context.Context) error
}

// ProfileInfo is one profile's metadata with its rotation status: never a
// key. It is the wire form of GET /v1/credentials and of PUT's answer.
type ProfileInfo struct {
	Name string `json:"profile"`
	Profile
	Rotation *Rotation `json:"rotation"`
	// Policy is who may receive the key; absent: open.
	Policy *Policy `json:"policy,omitempty"`
	// Displaced are the keys this profile's keys replaced, kept (oldest
	// first; displaced.go).
	Displaced []DisplacedKey `json:"displaced,omitempty"`
	// Gone: the metadata names a key the keychain no longer holds.
	Gone bool `json:"gone,omitempty"`
	// Unrecorded: the keychain holds a key for the profile that this
	// state directory has no metadata for (a new HOME on the same keychain).
	Unrecorded bool `json:"unrecorded,omitempty"`
	// Store: the key lives beyond this machine's keychain (stores.go).
	Store *StoreInfo `json:"store,omitempty"`
}

// PutOptions describe where a key came from. They are also the body of
// PUT /v1/credentials/{profile}, beside "api_key".
type PutOptions struct {
	Source    string     `json:"source,omitempty"`
	CreatedAt *time.Time `json:"created_at,omitempty"` // from the server, when known
	KeyID     *string    `json:"key_id,omitempty"`
	// APIURL is the profile's URL tier: set only by `login --api-url`
	// (never by a migration).
	APIURL *string `json:"api_url,omitempty"`
}
