package credstore

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/internal/toraleconfig"
)

// fakeTiers is a table-driven stand-in for the stored tiers.
type fakeTiers struct {
	stored    string
	storedErr error
	plain     toraleconfig.Config
	purl      string
	newer     bool // config.json's key was written after the stored one
	asked     *int
}

func (t fakeTiers) storedKey(context.Context, string) (string, error) {
	if t.asked != nil {
		*t.asked++
	}
	if t.storedErr != nil {
		return "", t.storedErr
	}
	if t.stored == "" {
		return "", storeerr.ErrNotFound
	}
	return t.stored, nil
}
func (t fakeTiers) plaintext(string) toraleconfig.Config { return t.plain }
func (t fakeTiers) profileURL(string) string             { return t.purl }
func (t fakeTiers) plaintextNewer(string) bool           { return t.newer }

const (
	flagKey   = "sk_FLAGflagFLAGflagFLAGflagFLAGflag99"
	envKey    = "sk_ENVenvENVenvENVenvENVenvENVenv1234"
	storedKey = "sk_STOREDstoredSTOREDstoredSTORED12"
	plainKey  = "sk_PLAINplainPLAINplainPLAINplain123"
)

func TestResolveKeyOrder(t *testing.T) {
	locked := &keychain.Error{Fault: keychain.FaultLocked}
	tests := []struct {
		name       string
		req        Request
		t          fakeTiers
		wantKey    string
		wantSource string
		wantErr    error
		wantAsked  int
	}{
		{"flag beats everything", Request{FlagKey: flagKey, Env: Env{APIKey: envKey}}, fakeTiers{stored: storedKey, plain: toraleconfig.Config{APIKey: plainKey}}, flagKey, FromFlag, nil, 0},
		{"env beats stored", Request{Env: Env{APIKey: envKey}}, fakeTiers{stored: storedKey, plain: toraleconfig.Config{APIKey: plainKey}}, envKey, FromEnv, nil, 0},
		{"keychain beats config", Request{}, fakeTiers{stored: storedKey, plain: toraleconfig.Config{APIKey: plainKey}}, storedKey, FromKeychain, nil, 1},
		{"a newer plaintext key beats the older stored one", Request{}, fakeTiers{stored: storedKey, plain: toraleconfig.Config{APIKey: plainKey}, newer: true}, plainKey, FromConfig, nil, 1},
		{"the same key newer is the stored one", Request{}, fakeTiers{stored: plainKey, plain: toraleconfig.Config{APIKey: plainKey}, newer: true}, plainKey, FromKeychain, nil, 1},
		{"env beats a newer plaintext key", Request{Env: Env{APIKey: envKey}}, fakeTiers{stored: storedKey, plain: toraleconfig.Config{APIKey: plainKey}, newer: true}, envKey, FromEnv, nil, 0},
		{"config last", Request{}, fakeTiers{plain: toraleconfig.Config{APIKey: plainKey}}, plainKey, FromConfig, nil, 1},
		{"none", Request{}, fakeTiers{}, "", FromNone, storeerr.ErrNotFound, 1},
		{"none with noauth is fine", Request{Env: Env{NoAuth: "1"}}, fakeTiers{}, "", FromNone, nil, 1},
		{"noauth=true is not noauth", Request{Env: Env{NoAuth: "true"}}, fakeTiers{}, "", FromNone, storeerr.ErrNotFound, 1},
		{"noauth still uses a key", Request{Env: Env{NoAuth: "1"}}, fakeTiers{stored: storedKey}, storedKey, FromKeychain, nil, 1},
		{"keychain failure is not no-key", Request{}, fakeTiers{storedErr: locked}, "", FromNone, storeerr.ErrKeychain, 1},
		{"keychain failure falls to config", Request{}, fakeTiers{storedErr: locked, plain: toraleconfig.Config{APIKey: plainKey}}, plainKey, FromConfig, nil, 1},
		{"keychain failure with noauth", Request{Env: Env{NoAuth: "1"}}, fakeTiers{storedErr: locked}, "", FromNone, nil, 1},
		{"env key with keychain down never asks it", Request{Env: Env{APIKey: envKey}}, fakeTiers{storedErr: locked}, envKey, FromEnv, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			asked := 0
			tt.t.asked = &asked
			r, err := resolve(context.Background(), tt.req, tt.t)
			if r.Key != tt.wantKey || r.KeySource != tt.wantSource {
				t.Errorf("got key %q from %q, want %q from %q", apikey.Hint(r.Key), r.KeySource, apikey.Hint(tt.wantKey), tt.wantSource)
			}
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if errors.Is(err, storeerr.ErrKeychain) && errors.Is(err, storeerr.ErrNotFound) {
				t.Errorf("a keychain failure was reported as no key: %v", err)
			}
			if asked != tt.wantAsked {
				t.Errorf("keychain asked %d times, want %d", asked, tt.wantAsked)
			}
			if r.NoAuth != (tt.req.Env.NoAuth == "1") {
				t.Errorf("NoAuth = %v", r.NoAuth)
			}
		})
	}
}

func TestResolveURLOrder(t *testing.T) {
	cfg := toraleconfig.Config{APIURL: "https://config.example"}
	tests := []struct {
		name       string
		req        Request
		t          fakeTiers
		want, from string
	}{
		{"flag first", Request{FlagURL: "https://flag.example", Env: Env{APIURL: "https://env.example", Dev: "1"}}, fakeTiers{plain: cfg}, "https://flag.example", FromFlag},
		{"env beats dev", Request{Env: Env{APIURL: "https://env.example", Dev: "1"}}, fakeTiers{plain: cfg}, "https://env.example", FromEnv},
		{"TORALE_DEV=1 beats config", Request{Env: Env{Dev: "1"}}, fakeTiers{plain: cfg}, DevAPIURL, FromDev},
		{"TORALE_NOAUTH=1 beats config", Request{Env: Env{NoAuth: "1"}}, fakeTiers{plain: cfg}, DevAPIURL, FromDev},
		{"TORALE_DEV=true is not dev", Request{Env: Env{Dev: "true"}}, fakeTiers{plain: cfg}, "https://config.example", FromConfig},
		{"TORALE_NOAUTH=yes is not dev", Request{Env: Env{NoAuth: "yes"}}, fakeTiers{}, DefaultAPIURL, FromDefault},
		{"config api_url", Request{}, fakeTiers{plain: cfg}, "https://config.example", FromConfig},
		{"profile's login --api-url", Request{}, fakeTiers{purl: "https://self.example"}, "https://self.example", FromProfile},
		{"config beats profile url", Request{}, fakeTiers{plain: cfg, purl: "https://self.example"}, "https://config.example", FromConfig},
		{"default", Request{}, fakeTiers{}, DefaultAPIURL, FromDefault},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Env.APIKey = envKey // the URL order must not depend on the key's
			r, err := resolve(context.Background(), tt.req, tt.t)
			if err != nil {
				t.Fatal(err)
			}
			if r.URL != tt.want || r.URLSource != tt.from {
				t.Errorf("got %s (%s), want %s (%s)", r.URL, r.URLSource, tt.want, tt.from)
			}
			tt.req.URLOnly = true
			r, err = resolve(context.Background(), tt.req, tt.t)
			if err != nil || r.URL != tt.want || r.URLSource != tt.from || r.Key != "" {
				t.Errorf("URL alone: got %s (%s) key %q, %v", r.URL, r.URLSource, apikey.Hint(r.Key), err)
			}
		})
	}
}

// Every URL tier is checked before use; a bad value is reported with the
// tier it came from, never passed on (SPEC; reliability finding 8).
func TestResolveRefusesBadURLs(t *testing.T) {
	long := "https://example.test/" + strings.Repeat("a", MaxURLBytes)
	tests := []struct {
		name string
		req  Request
		t    fakeTiers
		tier string
	}{
		{"NUL in env", Request{Env: Env{APIURL: "https://x\x00y"}}, fakeTiers{}, "TORALE_API_URL"},
		{"too long in config", Request{}, fakeTiers{plain: toraleconfig.Config{APIURL: long}}, "config.json's api_url"},
		{"no scheme in flag", Request{FlagURL: "api.torale.ai"}, fakeTiers{}, "--api-url"},
		{"ftp in profile tier", Request{}, fakeTiers{purl: "ftp://x.example"}, "login --api-url"},
		{"no host", Request{Env: Env{APIURL: "https://"}}, fakeTiers{}, "TORALE_API_URL"},
		{"newline", Request{Env: Env{APIURL: "https://a.example\nHost: evil"}}, fakeTiers{}, "TORALE_API_URL"},
		{"C1 CSI in config", Request{}, fakeTiers{plain: toraleconfig.Config{APIURL: "https://a.example/\u009b2J"}}, "config.json's api_url"},
		{"bidi override in profile tier", Request{}, fakeTiers{purl: "https://a.example/\u202egpj"}, "login --api-url"},
		{"not UTF-8", Request{Env: Env{APIURL: "https://a.example/\xff"}}, fakeTiers{}, "TORALE_API_URL"},
		{"credentials in URL", Request{Env: Env{APIURL: "https://u:p@a.example"}}, fakeTiers{}, "TORALE_API_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.FlagKey = flagKey
			r, err := resolve(context.Background(), tt.req, tt.t)
			if !errors.Is(err, ErrBadURL) {
				t.Fatalf("err = %v, want ErrBadURL", err)
			}
			if !strings.Contains(err.Error(), tt.tier) {
				t.Errorf("error %q does not name the tier %q", err, tt.tier)
			}
			if r.Key != "" || len(err.Error()) > 400 || strings.ContainsRune(err.Error(), 0) {
				t.Errorf("a bad URL leaked into the answer or the message: %q", err)
			}
		})
	}
	if err := CheckURL("http://localhost:8000", "x"); err != nil {
		t.Errorf("http://localhost:8000 refused: %v", err)
	}
}

// config.json's key is handed out only when it is a Torale key: any other
// value is refused (apikey.ErrBadKey), never returned, and the sentence
// shows at most its first 7 characters, escaped.
func TestResolveRefusesMalformedConfigKey(t *testing.T) {
	cases := []struct {
		name, key string
		noauth    bool
		wantShown string // what of the key the sentence may show
	}{
		{"OSC and CSI", "sk_\x1b]0;pwned\a\x1b[2J" + strings.Repeat("a", 32), false, `"sk_?]0;"`},
		{"a second line", plainKey + "\nTORALE_API_URL=https://evil", false, "more than one word or line"},
		{"NUL", plainKey + "\x00", false, "other than letters"},
		{"white space around", " " + plainKey + " ", false, "white space around it"},
		{"too short", "sk_short", false, `"sk_shor"`},
		{"no sk_", "password123456789012345678901234567890", false, `"passwor"`},
		{"bidi", "sk_\u202e" + strings.Repeat("b", 32), false, `"sk_?b"`},
		{"refused with noauth too", "sk_\x1b[31m" + strings.Repeat("c", 32), true, `"sk_?[31"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := Request{}
			if tc.noauth {
				req.Env.NoAuth = "1"
			}
			r, err := resolve(context.Background(), req, fakeTiers{plain: toraleconfig.Config{APIKey: tc.key}})
			if !errors.Is(err, apikey.ErrBadKey) || r.Key != "" || r.KeySource == FromConfig {
				t.Fatalf("got key %q from %q, err %v; want apikey.ErrBadKey and no key", apikey.Hint(r.Key), r.KeySource, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "config.json") || !strings.Contains(msg, "torale-cred login") || !strings.Contains(msg, tc.wantShown) {
				t.Fatalf("sentence %q lacks config.json, the fix or %q", msg, tc.wantShown)
			}
			if strings.ContainsFunc(msg, func(r rune) bool { return r < 0x20 || r == 0x7f || r == 0x202e }) {
				t.Fatalf("sentence %q holds a control character", msg)
			}
			if len(tc.key) > 10 && strings.Contains(msg, tc.key[3:10]) && !strings.Contains(tc.wantShown, tc.key[3:10]) {
				t.Fatalf("sentence %q shows more of the key than its first 7 characters", msg)
			}
		})
	}
	// A well-formed key is still handed out; the keychain's still wins.
	if r, err := resolve(context.Background(), Request{}, fakeTiers{plain: toraleconfig.Config{APIKey: plainKey}}); err != nil || r.Key != plainKey {
		t.Fatalf("good config key: %q, %v", apikey.Hint(r.Key), err)
	}
	if r, err := resolve(context.Background(), Request{}, fakeTiers{stored: storedKey, plain: toraleconfig.Config{APIKey: "junk"}}); err != nil || r.Key != storedKey {
		t.Fatalf("keychain over a junk config key: %q, %v", apikey.Hint(r.Key), err)
	}
}
