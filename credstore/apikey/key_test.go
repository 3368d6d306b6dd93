package apikey

import (
	"errors"
	"strings"
	"testing"
)

func TestParseKey(t *testing.T) {
	doc := "sk_abc123def456ghi789jkl012mno345pq"       // the docs' example: 32 after sk_
	live := "sk_" + strings.Repeat("aZ9-_", 8) + "xyz" // 43 URL-safe characters, as token_urlsafe(32)
	tests := []struct {
		in, want string
		ok       bool
	}{
		{doc, doc, true},
		{live, live, true},
		{"  " + doc + "\n", doc, true},
		{"\t" + live + "\r\n", live, true},
		{"sk_" + strings.Repeat("a", 128), "sk_" + strings.Repeat("a", 128), true},
		{"sk_" + strings.Repeat("a", 129), "", false},
		{"sk_" + strings.Repeat("a", 31), "", false},
		{"", "", false},
		{"   ", "", false},
		{"pk_" + strings.Repeat("a", 32), "", false},
		{"SK_" + strings.Repeat("a", 32), "", false},
		{"sk-" + strings.Repeat("a", 32), "", false},
		{"sk_" + strings.Repeat("a", 31) + "!", "", false},
		{"sk_" + strings.Repeat("a", 31) + "é", "", false},
		{"sk_" + strings.Repeat("a", 31) + "=", "", false},
		{doc + " " + doc, "", false},
		{doc + "\n" + doc, "", false},
		{"Bearer " + doc, "", false},
		{"sk_" + strings.Repeat("a", 16) + "\x00" + strings.Repeat("a", 16), "", false},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("Parse(%q) = %q, %v", tt.in, got, err)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrBadKey) {
				t.Errorf("Parse(%q) error %v is not ErrBadKey", tt.in, err)
			}
			// Never more than the first 7 characters of what was given.
			trimmed := strings.TrimSpace(tt.in)
			if len(trimmed) > 7 && strings.Contains(err.Error(), trimmed[:8]) {
				t.Errorf("error echoes more than 7 characters of the key: %v", err)
			}
		}
	}
}

func FuzzParseKey(f *testing.F) {
	f.Add("sk_abc123def456ghi789jkl012mno345pq")
	f.Add(" sk_abc123def456ghi789jkl012mno345pq\n")
	f.Add("sk_\x00")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := Parse(s)
		if err == nil && !Valid(k) {
			t.Fatalf("accepted %q which is not valid", k)
		}
		if err != nil {
			// The message may show 7 characters; 8 plain ones in a row from
			// the input would be an echo (quoting can lengthen other runs).
			trimmed := strings.TrimSpace(s)
			for i := 0; i+8 <= len(trimmed); i++ {
				w := trimmed[i : i+8]
				if plainWord(w) && strings.Contains(err.Error(), w) && !strings.Contains(ErrBadKey.Error()+" a Torale key starts with sk_ holds a character other than letters, digits, - or _ characters; at least more than one word or line; paste exactly one key the key is empty", w) {
					t.Fatalf("error echoes %q of the input: %v", w, err)
				}
			}
		}
	})
}

func TestHintAndServerPrefix(t *testing.T) {
	key := "sk_abc123def456ghi789jkl012mno345pq"
	if got := Hint(key); got != "sk_...345pq" {
		t.Errorf("Hint = %q", got)
	}
	// A malformed key (config.json's, TORALE_API_KEY) may end in escapes.
	if got := Hint("not a key\x1b]0;x\a"); got != `sk_...]0;x\a` {
		t.Errorf("Hint of a malformed key = %q", got)
	}
	for _, p := range []string{"sk_...345pq", key[:15] + "..."} {
		if !MatchesServerPrefix(key, p) {
			t.Errorf("MatchesServerPrefix(%q) = false", p)
		}
	}
	for _, p := range []string{"", "sk_...", "sk_...xyz89", "sk_...", "sk_abc...", "sk_abc123def999..."} {
		if MatchesServerPrefix(key, p) {
			t.Errorf("MatchesServerPrefix(%q) = true", p)
		}
	}
}

func plainWord(w string) bool {
	for _, r := range w {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
