package apikey

import (
	"regexp"
	"strings"
	"testing"
)

// The patterns SPEC.md states; validKey and validProfileName must agree
// with them on every input.
var (
	keyPattern     = regexp.MustCompile(`^sk_[A-Za-z0-9_-]{32,128}$`)
	profilePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
)

// formatSeeds sit on every edge of both patterns: the lengths either side
// of each bound, each class of character, a trailing newline ($ is the end
// of the text, not of a line), non-ASCII letters and bytes that are not
// UTF-8. The key-shaped ones are built here, never written out.
func formatSeeds() []string {
	body := func(n int, c string) string { return strings.Repeat(c, n) }
	seeds := []string{"", "s", "sk", "sk_", "sk-", "SK_" + body(32, "a"), " sk_" + body(32, "a"),
		"a", "A", "0", ".", "_", "-", "a.", "a_b-c.d", ".a", "-a", "_a", "a b", "a\n", "ä", "\xff", "a\xff", "default"}
	for _, n := range []int{31, 32, 33, 43, 127, 128, 129} {
		seeds = append(seeds, "sk_"+body(n, "a"), "sk_"+body(n, "Z"), "sk_"+body(n, "9"), "sk_"+body(n, "_"), "sk_"+body(n, "-"))
		seeds = append(seeds, "sk_"+body(n-1, "a")+".", "sk_"+body(n-1, "a")+"\n", "sk_"+body(n-1, "a")+"é", "sk_"+body(n, "a")+"\n")
	}
	for _, n := range []int{63, 64, 65} {
		seeds = append(seeds, body(n, "a"), "a"+body(n-1, "."), "a"+body(n-1, "-"), "9"+body(n-1, "_"), body(n-1, "a")+"\n")
	}
	return seeds
}

func FuzzValidKeyMatchesPattern(f *testing.F) {
	for _, s := range formatSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := Valid(s), keyPattern.MatchString(s); got != want {
			t.Fatalf("Valid(%q) = %v, the pattern says %v", s, got, want)
		}
	})
}

func FuzzValidProfileNameMatchesPattern(f *testing.F) {
	for _, s := range formatSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidProfileName(s), profilePattern.MatchString(s); got != want {
			t.Fatalf("ValidProfileName(%q) = %v, the pattern says %v", s, got, want)
		}
	})
}
