package credstore

import (
	"errors"
	"fmt"

	"github.com/torale-ai/torale-cred/credstore/storeerr"
)

// Sentinel errors beside the stores' (storeerr), the key format's
// (apikey.ErrBadKey) and ErrBadProfile (wire.go). Callers decide exit
// codes and HTTP statuses with errors.Is, never by reading text.
var (
	// ErrBadURL: a URL tier holds a value that must not be passed on.
	ErrBadURL = errors.New("invalid API URL")
	// ErrDenied: a policy refused to hand the key to this caller.
	ErrDenied = errors.New("denied")
)

// NoKeyMessage is the one sentence for "no key", worded as the official
// CLI words it ("No API key configured"), with the command that fixes it.
func NoKeyMessage(profile string) string {
	return fmt.Sprintf("No API key configured for profile %q; run: torale-cred login --profile %s", profile, profile)
}

// NoKeyError is storeerr.ErrNotFound for profile, worded by NoKeyMessage.
type NoKeyError struct{ Profile string }

func (e *NoKeyError) Error() string { return NoKeyMessage(e.Profile) }
func (e *NoKeyError) Unwrap() error { return storeerr.ErrNotFound }
