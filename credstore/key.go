package credstore

import (
	"errors"
	"fmt"
	"strings"
)

// Key and profile formats are checked by hand-written loops, not regexps:
// a regexp is compiled when the package initialises, in every process that
// links credstore, and `^sk_[A-Za-z0-9_-]{32,128}$` compiled to a program
// of over two thousand allocations, most of credstore's init time and paid
// by commands that never see a key. key_fuzz_test.go proves each loop
// equal to its regexp.

// validKey is `^sk_[A-Za-z0-9_-]{32,128}$`: both the documented keys (sk_ +
// 32 characters) and the live server's (sk_ + token_urlsafe(32), 43
// characters), as SPEC.md fixes.
func validKey(s string) bool {
	if len(s) < 3+32 || len(s) > 3+128 || s[:3] != "sk_" {
		return false
	}
	for i := 3; i < len(s); i++ {
		if !alnum(s[i]) && s[i] != '_' && s[i] != '-' {
			return false
		}
	}
	return true
}

// validProfileName is `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`: 1 to 64 letters,
// digits, '.', '_' or '-', the first a letter or digit, so that a name is
// always a usable keychain account and git username.
func validProfileName(s string) bool {
	if len(s) < 1 || len(s) > 64 || !alnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// alnum is [A-Za-z0-9]: ASCII only, as the patterns are.
func alnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// ErrBadKey is wrapped by every key-format error, so callers map it to a
// usage-class exit without inspecting text.
var ErrBadKey = errors.New("malformed API key")

// ParseKey trims the whitespace a paste brings and checks the format. The
// error never carries the key: at most its first 7 characters.
func ParseKey(s string) (string, error) {
	k := strings.TrimSpace(s)
	switch {
	case k == "":
		return "", fmt.Errorf("%w: the key is empty; a Torale key looks like sk_ followed by 32 to 128 letters, digits, - or _", ErrBadKey)
	case strings.ContainsAny(k, " \t\r\n"):
		return "", fmt.Errorf("%w: the input holds more than one word or line; paste exactly one key", ErrBadKey)
	case !strings.HasPrefix(k, "sk_"):
		return "", fmt.Errorf("%w: a Torale key starts with sk_ (got %q…)", ErrBadKey, prefix(k))
	case len(k) < 3+32:
		return "", fmt.Errorf("%w: %q… is %d characters; a Torale key has sk_ and at least 32 more", ErrBadKey, prefix(k), len(k))
	case len(k) > 3+128:
		return "", fmt.Errorf("%w: %q… is %d characters; a Torale key has at most 131", ErrBadKey, prefix(k), len(k))
	case !validKey(k):
		return "", fmt.Errorf("%w: %q… holds a character other than letters, digits, - or _", ErrBadKey, prefix(k))
	}
	return k, nil
}

// ValidKey reports whether s is a well-formed key as it stands (no trimming).
func ValidKey(s string) bool { return validKey(s) }

// prefix is the most of a key any message may show.
func prefix(k string) string { return printable(k, 7) }

// printable is at most n bytes of s with anything but printable ASCII
// shown as '?', for quoting a caller's input in a message.
func printable(s string, n int) string {
	var b strings.Builder
	for i, r := range s {
		if i >= n {
			break
		}
		if r < 0x20 || r == 0x7f || r > 0x7e {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Hint is how a key is shown to people: sk_... and its last 5 characters,
// the docs' form.
func Hint(key string) string {
	if len(key) < 8 {
		return "sk_..."
	}
	return "sk_..." + key[len(key)-5:]
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
