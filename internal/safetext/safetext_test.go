package safetext

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestText(t *testing.T) {
	cases := []struct {
		name, in string
		max      int
		want     string
	}{
		{"plain path", "/usr/bin/git", MaxName, "/usr/bin/git"},
		{"empty", "", 10, ""},
		{"unicode letters stay", "/home/zoë/bin/日本", 0, "/home/zoë/bin/日本"},
		{"carriage return and a fake row", "/tmp/x\r2026-01-01 ok /usr/bin/git", 0, `/tmp/x\r2026-01-01 ok /usr/bin/git`},
		{"CSI colour", "/tmp/\x1b[31mred\x1b[0m", 0, `/tmp/\x1b[31mred\x1b[0m`},
		{"OSC title", "\x1b]0;pwned\x07", 0, `\x1b]0;pwned\a`},
		{"newline and tab", "a\nb\tc", 0, `a\nb\tc`},
		{"NUL and DEL", "a\x00b\x7f", 0, `a\x00b\x7f`},
		{"C1 CSI", "a\u009b31mb", 0, `a\u009b31mb`},
		{"bidi override", "/tmp/\u202egpj.exe", 0, `/tmp/\u202egpj.exe`},
		{"bidi isolates", "\u2066x\u2069", 0, `\u2066x\u2069`},
		{"zero width and soft hyphen", "g\u200bi\u00adt", 0, `g\u200bi\u00adt`},
		{"line separator", "a\u2028b", 0, `a\u2028b`},
		{"no-break space", "a\u00a0b", 0, `a\u00a0b`},
		{"not UTF-8", "a\xffb\xc3", 0, `a\xffb\xc3`},
		{"backslash left alone", `C:\x`, 0, `C:\x`},
		{"bound", "abcdefghij", 4, "abcd…"},
		{"bound at the length", "abcd", 4, "abcd"},
		{"bound cuts at a character", "aé", 2, "a…"},
		{"bound counts input bytes", "\x1b\x1b\x1b", 2, `\x1b\x1b…`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Text(tc.in, tc.max); got != tc.want {
				t.Fatalf("Text(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
			}
		})
	}
}

// Whatever goes in, nothing unprintable comes out, the result is UTF-8,
// and escaping it again changes nothing.
func TestTextNeverPassesControls(t *testing.T) {
	var all strings.Builder
	for r := rune(0); r < 0x3000; r++ {
		all.WriteRune(r)
	}
	all.WriteString("\ufeff\U000e0001\U0010ffff\xff\xfe")
	for _, in := range []string{all.String(), "\x1b[2J\r\n\u202e\u0085"} {
		out := Text(in, 0)
		if !utf8.ValidString(out) {
			t.Fatalf("Text gave invalid UTF-8")
		}
		for _, r := range out {
			if r != ' ' && !unicode.IsPrint(r) {
				t.Fatalf("Text passed %U", r)
			}
		}
		if again := Text(out, 0); again != out {
			t.Fatalf("Text is not stable on its own output")
		}
	}
}

func TestLines(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"one line", "one line"},
		{"two\nlines\n", "two\nlines\n"},
		{"a\rb\n\x1b[2Jc", "a\\rb\n\\x1b[2Jc"},
		{`kept \x1b`, `kept \x1b`},
	}
	for _, tc := range cases {
		if got := Lines(tc.in); got != tc.want {
			t.Errorf("Lines(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
