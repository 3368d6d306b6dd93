// Package safetext shows a name that came from outside torale-cred (an
// executable path, a command name, a systemd unit, a URL, a profile name
// read from a file, a sentence a server sent) to a person: on a terminal, in
// a desktop notification, in the desktop question. What it returns holds no
// character that could move the cursor, colour or retitle the terminal,
// reorder the text around it or hide part of it.
package safetext

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxName bounds one name where the caller knows no better bound: more than
// a screen line or two of a path tells a person nothing more, and a name of
// megabytes must not flood a terminal or a notification.
const MaxName = 256

// Text is s as a person may safely read it. Every character that is not
// printable (C0 controls and DEL, C1 controls, Unicode format characters
// such as the bidi overrides U+202E and U+2066..U+2069 and the zero-width
// ones, line and paragraph separators, spaces other than U+0020, private
// and unassigned code points, and bytes that are not UTF-8) is shown
// escaped as Go's %q shows it: \r, \x1b, \u202e. At most max bytes of s are
// shown, cut at a character and marked with "…"; max <= 0 shows it all.
//
// A backslash is left as it is, so that Text of Text's result is the same
// text: a message whose names were escaped where it was composed can be
// escaped again where it is printed. (A name holding a literal "\x1b" then
// reads like one holding ESC; it can do nothing to the terminal either way.)
func Text(s string, max int) string {
	cut := max > 0 && len(s) > max
	if !cut && plainASCII(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	var q []byte
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if max > 0 && i+size > max {
			break
		}
		switch {
		case r == utf8.RuneError && size == 1:
			q = append(q[:0], `\x`...)
			q = append(q, "0123456789abcdef"[s[i]>>4], "0123456789abcdef"[s[i]&0xf])
			b.Write(q)
		case r == ' ' || unicode.IsPrint(r):
			b.WriteString(s[i : i+size])
		default:
			q = strconv.AppendQuoteRuneToASCII(q[:0], r)
			b.Write(q[1 : len(q)-1]) // without the quotes
		}
		i += size
	}
	if cut {
		b.WriteString("…")
	}
	return b.String()
}

// Lines is Text, unbounded, of each line of s: for a sentence or a
// notification that is the last guard for a name that reached it
// unescaped. Its line breaks stay line breaks.
func Lines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = Text(l, 0)
	}
	return strings.Join(lines, "\n")
}

// plainASCII: every byte printable ASCII, the common case, kept cheap.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}
