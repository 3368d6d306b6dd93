package credstore

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxURLBytes bounds an API URL (SPEC): longer ones are reported, never
// passed on (an environment variable that size breaks exec).
const MaxURLBytes = 2048

// CheckURL applies SPEC's rule to a URL from any tier: http or https, a
// host, at most MaxURLBytes, no control characters (nor any character
// that does not print: bidi overrides, zero widths, bad UTF-8). tier names
// where it came from ("TORALE_API_URL", "config.json's api_url", …). The error
// shows at most the scheme and host, never the whole value.
func CheckURL(raw, tier string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: %s %s; fix it or unset it", ErrBadURL, tier, why)
	}
	switch {
	case len(raw) > MaxURLBytes:
		return bad(fmt.Sprintf("is %d bytes, more than %d", len(raw), MaxURLBytes))
	case !utf8.ValidString(raw) || strings.ContainsFunc(raw, func(r rune) bool { return r != ' ' && !unicode.IsPrint(r) }):
		// C1 controls and bidi overrides too: a URL is printed by status
		// and env, and goes into exec's environment.
		return bad("holds a control or invisible character")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad("is not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return bad("must start with https:// (or http://)")
	}
	if u.Host == "" || u.Hostname() == "" {
		return bad("names no host")
	}
	if u.User != nil {
		return bad("must not hold a user name or password")
	}
	return nil
}

// SecureURL reports whether a key may travel to raw without the user
// asking for it there and then (the daemon's own calls): https only.
func SecureURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.Scheme == "https" && u.Host != ""
}
