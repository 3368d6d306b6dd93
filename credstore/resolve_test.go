package credstore

import (
	"context"
	"errors"
	"testing"

	"github.com/torale-ai/torale-cred/internal/toraleconfig"
)

// tiers is a table-driven stand-in for the stored tiers.
type tiers struct {
	stored     string
	storedErr  error
	plain      toraleconfig.Config
	profileURL string
	asked      *int
}

func (t tiers) StoredKey(context.Context, string) (string, error) {
	if t.asked != nil {
		*t.asked++
	}
	if t.storedErr != nil {
		return "", t.storedErr
	}
	if t.stored == "" {
		return "", ErrNotFound
	}
	return t.stored, nil
}
func (t tiers) Plaintext(string) toraleconfig.Config { return t.plain }
func (t tiers) ProfileURL(string) string             { return t.profileURL }

const (
	flagKey   = "sk_FLAGflagFLAGflagFLAGflagFLAGflag99"
	envKey    = "sk_ENVenvENVenvENVenvENVenvENVenv1234"
	storedKey = "sk_STOREDstoredSTOREDstoredSTORED12"
	plainKey  = "sk_PLAINplainPLAINplainPLAINplain123"
)

func TestResolveKeyOrder(t *testing.T) {
	locked := &KeychainError{Fault: FaultLocked}
	tests := []struct {
		name       string
		req        Request
		t          tiers
		wantKey    string
		wantSource string
		wantErr    error
		wantAsked  int
	}{
		{"flag beats everything", Request{FlagKey: flagKey, Env: Env{APIKey: envKey}}, tiers{stored: storedKey, plain: toraleconfig.Config{APIKey: plainKey}}, flagKey, FromFlag, nil, 0},
		{"env beats stored", Request{Env: Env{APIKey: envKey}}, tiers{stored: storedKey, plain: toraleconfig.Config{APIKey: plainKey}}, envKey, FromEnv, nil, 0},
		{"keychain beats config", Request{}, tiers{stored: storedKey, plain: toraleconfig.Config{APIKey: plainKey}}, storedKey, FromKeychain, nil, 1},
		{"config last", Request{}, tiers{plain: toraleconfig.Config{APIKey: plainKey}}, plainKey, FromConfig, nil, 1},
		{"none", Request{}, tiers{}, "", FromNone, ErrNotFound, 1},
		{"none with noauth is fine", Request{Env: Env{NoAuth: "1"}}, tiers{}, "", FromNone, nil, 1},
		{"noauth=true is not noauth", Request{Env: Env{NoAuth: "true"}}, tiers{}, "", FromNone, ErrNotFound, 1},
		{"noauth still uses a key", Request{Env: Env{NoAuth: "1"}}, tiers{stored: storedKey}, storedKey, FromKeychain, nil, 1},
		{"keychain failure is not no-key", Request{}, tiers{storedErr: locked}, "", FromNone, ErrKeychain, 1},
		{"keychain failure falls to config", Request{}, tiers{storedErr: locked, plain: toraleconfig.Config{APIKey: plainKey}}, plainKey, FromConfig, nil, 1},
		{"keychain failure with noauth", Request{Env: Env{NoAuth: "1"}}, tiers{storedErr: locked}, "", FromNone, nil, 1},
		{"env key with keychain down never asks it", Request{Env: Env{APIKey: envKey}}, tiers{storedErr: locked}, envKey, FromEnv, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			asked := 0
			tt.t.asked = &asked
			r, err := Resolve(context.Background(), tt.req, tt.t)
			if r.Key != tt.wantKey || r.KeySource != tt.wantSource {
				t.Errorf("got key %q from %q, want %q from %q", Hint(r.Key), r.KeySource, Hint(tt.wantKey), tt.wantSource)
			}
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if errors.Is(err, ErrKeychain) && errors.Is(err, ErrNotFound) {
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
		t          tiers
		want, from string
	}{
		{"flag first", Request{FlagURL: "https://flag.example", Env: Env{APIURL: "https://env.example", Dev: "1"}}, tiers{plain: cfg}, "https://flag.example", FromFlag},
		{"env beats dev", Request{Env: Env{APIURL: "https://env.example", Dev: "1"}}, tiers{plain: cfg}, "https://env.example", FromEnv},
		{"TORALE_DEV=1 beats config", Request{Env: Env{Dev: "1"}}, tiers{plain: cfg}, DevAPIURL, FromDev},
		{"TORALE_NOAUTH=1 beats config", Request{Env: Env{NoAuth: "1"}}, tiers{plain: cfg}, DevAPIURL, FromDev},
		{"TORALE_DEV=true is not dev", Request{Env: Env{Dev: "true"}}, tiers{plain: cfg}, "https://config.example", FromConfig},
		{"TORALE_NOAUTH=yes is not dev", Request{Env: Env{NoAuth: "yes"}}, tiers{}, DefaultAPIURL, FromDefault},
		{"config api_url", Request{}, tiers{plain: cfg}, "https://config.example", FromConfig},
		{"profile's remembered url", Request{}, tiers{profileURL: "https://self.example"}, "https://self.example", FromProfile},
		{"config beats profile url", Request{}, tiers{plain: cfg, profileURL: "https://self.example"}, "https://config.example", FromConfig},
		{"default", Request{}, tiers{}, DefaultAPIURL, FromDefault},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Env.APIKey = envKey // the URL order must not depend on the key's
			r, err := Resolve(context.Background(), tt.req, tt.t)
			if err != nil {
				t.Fatal(err)
			}
			if r.URL != tt.want || r.URLSource != tt.from {
				t.Errorf("got %s (%s), want %s (%s)", r.URL, r.URLSource, tt.want, tt.from)
			}
			u, from := ResolveURL(tt.req, tt.t)
			if u != tt.want || from != tt.from {
				t.Errorf("ResolveURL got %s (%s)", u, from)
			}
		})
	}
}
