package toraleconfig

import (
	"errors"
	"strings"
	"testing"
)

const key = "sk_abc123def456ghi789jkl012mno345pq"

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		want    Config
		wantErr bool
	}{
		{"documented shape", `{"api_key": "` + key + `", "api_url": "https://api.torale.ai"}`, Config{true, key, "https://api.torale.ai"}, false},
		{"no key", `{"api_url": "u"}`, Config{APIURL: "u"}, false},
		{"empty object", `{}`, Config{}, false},
		{"BOM", "\xef\xbb\xbf{}", Config{}, true},
		{"array", `[1]`, Config{}, true},
		{"string", `"x"`, Config{}, true},
		{"null", `null`, Config{}, true},
		{"half written", `{"api_key": "sk_`, Config{}, true},
		{"empty file", ``, Config{}, true},
		{"two values", `{} {}`, Config{}, true},
		{"numeric key", `{"api_key": 42}`, Config{}, true},
		{"null key", `{"api_key": null}`, Config{HasKey: true}, false},
		{"duplicate key", `{"api_key": "a", "api_key": "b"}`, Config{}, true},
		{"not utf-8", "{\"x\": \"\xff\"}", Config{}, true},
		{"nested api_key is not ours", `{"other": {"api_key": "x"}}`, Config{}, false},
		{"non-string url ignored", `{"api_url": 3}`, Config{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.raw))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("error does not wrap ErrMalformed: %v", err)
				}
				if strings.Contains(err.Error(), "sk_") {
					t.Errorf("error quotes the input: %v", err)
				}
				return
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestWithoutKeyKeepsEverythingElse(t *testing.T) {
	tests := []struct{ in, want string }{
		{"{\n  \"api_key\": \"" + key + "\",\n  \"api_url\": \"https://x\"\n}\n", "{\n  \"api_url\": \"https://x\"\n}\n"},
		{"{\n  \"api_url\": \"https://x\",\n  \"api_key\": \"" + key + "\"\n}\n", "{\n  \"api_url\": \"https://x\"\n}\n"},
		{"{\n    \"z\": [1, 2],\n    \"api_key\": \"" + key + "\",\n    \"a\": {\"api_key\": 1}\n}", "{\n    \"z\": [1, 2],\n    \"a\": {\"api_key\": 1}\n}"},
		{`{"api_key":"` + key + `"}`, `{}`},
	}
	for _, tt := range tests {
		got, err := WithoutKey([]byte(tt.in))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.want {
			t.Errorf("WithoutKey:\n got %q\nwant %q", got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{`{"api_key":"` + key + `","api_url":"u"}`, `{}`, `[`, "\xef\xbb\xbf{}", `{"api_key":1}`, `{"a":{"api_key":"x"},"api_key":"y"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := Parse(raw)
		if err != nil {
			return
		}
		out, err := WithoutKey(raw)
		if err != nil {
			return // refused rather than mangled
		}
		after, err := Parse(out)
		if err != nil {
			t.Fatalf("WithoutKey produced an unparsable file from %q", raw)
		}
		if after.HasKey {
			t.Fatalf("api_key survived in %q", out)
		}
		if after.APIURL != c.APIURL {
			t.Fatalf("api_url changed: %q → %q", c.APIURL, after.APIURL)
		}
	})
}
