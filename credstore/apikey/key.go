// Package apikey is what a Torale API key looks like and how one is shown:
// Parse and Valid check the format (sk_ and 32 to 128 URL-safe
// characters), Hint and KeyPrefix are the most of a key any message may
// show. A profile name, which becomes a keychain account and a git
// username, is checked the same hand-written way (ValidProfileName). It
// reads no file and holds no key.
package apikey

import (
	"errors"
	"fmt"
	"strings"

	"github.com/torale-ai/torale-cred/internal/safetext"
)

// ErrBadKey is wrapped by every key-format error, so callers map it to a
// usage-class exit without inspecting text.
var ErrBadKey = errors.New("malformed API key")

// Parse trims the whitespace a paste brings and checks the format. The
// error never carries the key: at most its first 7 characters.
func Parse(s string) (string, error) {
	k := strings.TrimSpace(s)
	switch {
	case k == "":
		return "", fmt.Errorf("%w: the key is empty; a Torale key looks like sk_ followed by 32 to 128 letters, digits, - or _", ErrBadKey)
	case strings.ContainsAny(k, " \t\r\n"):
		return "", fmt.Errorf("%w: the input holds more than one word or line; paste exactly one key", ErrBadKey)
	case !strings.HasPrefix(k, "sk_"):
		return "", fmt.Errorf("%w: a Torale key starts with sk_ (got %q…)", ErrBadKey, KeyPrefix(k))
	case len(k) < 3+32:
		return "", fmt.Errorf("%w: %q… is %d characters; a Torale key has sk_ and at least 32 more", ErrBadKey, KeyPrefix(k), len(k))
	case len(k) > 3+128:
		return "", fmt.Errorf("%w: %q… is %d characters; a Torale key has at most 131", ErrBadKey, KeyPrefix(k), len(k))
	case !Valid(k):
		return "", fmt.Errorf("%w: %q… holds a character other than letters, digits, - or _", ErrBadKey, KeyPrefix(k))
	}
	return k, nil
}

// Hint is how a key is shown to people: sk_... and its last 5 characters,
// the docs' form.
func Hint(key string) string {
	if len(key) < 8 {
		return "sk_..."
	}
	// A well-formed key's tail is plain; a malformed one (config.json's,
	// TORALE_API_KEY) may end in anything.
	return "sk_..." + safetext.Text(key[len(key)-5:], 0)
}

// MatchesServerPrefix reports whether a server's key_prefix names key. The
// docs show "sk_...xyz89"; the live server stores key[:15]+"...".
func MatchesServerPrefix(key, serverPrefix string) bool {
	if key == "" || serverPrefix == "" {
		return false
	}
	if serverPrefix == Hint(key) {
		return true
	}
	if p, ok := strings.CutSuffix(serverPrefix, "..."); ok && len(p) >= 8 {
		return strings.HasPrefix(key, p)
	}
	return false
}
