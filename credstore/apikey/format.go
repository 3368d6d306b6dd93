package apikey

import "strings"

// Key and profile formats are checked by hand-written loops, not regexps:
// a regexp is compiled when the package initialises, in every process that
// links it, and `^sk_[A-Za-z0-9_-]{32,128}$` compiled to a program of over
// two thousand allocations. key_fuzz_test.go proves each loop
// equal to its regexp.

// Valid is `^sk_[A-Za-z0-9_-]{32,128}$`: both the documented keys (sk_ +
// 32 characters) and the live server's (sk_ + token_urlsafe(32), 43
// characters), as SPEC.md fixes.
func Valid(s string) bool {
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

// ValidProfileName is `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`: 1 to 64 letters,
// digits, '.', '_' or '-', the first a letter or digit, so that a name is
// always a usable keychain account and git username.
func ValidProfileName(s string) bool {
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

// KeyPrefix is the most of a key any message may show: its first 7
// bytes, anything but printable ASCII shown as '?' (a secret's fragment is
// never escaped into something longer).
func KeyPrefix(k string) string {
	var b strings.Builder
	for i, r := range k {
		if i >= 7 {
			break
		}
		if r < 0x20 || r > 0x7e {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}
