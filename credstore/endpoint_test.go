package credstore

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/torale-ai/torale-cred/credstore/apikey"
)

func TestLocalTokenShape(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok, err := newLocalToken()
		if err != nil {
			t.Fatal(err)
		}
		if !IsLocalToken(tok) || strings.HasPrefix(tok, "sk_") || apikey.Valid(tok) || seen[tok] {
			t.Fatalf("token %s: local %v, key %v, repeated %v", TokenHint(tok), IsLocalToken(tok), apikey.Valid(tok), seen[tok])
		}
		seen[tok] = true
	}
	for _, s := range []string{"", "tcl_", "tcl_short", "sk_" + strings.Repeat("a", 32), "tcl_" + strings.Repeat("a", 31) + "!", "TCL_" + strings.Repeat("a", 32)} {
		if IsLocalToken(s) {
			t.Errorf("%q taken for a local token", s)
		}
	}
	ep := &Endpoint{Port: 41234}
	for raw, want := range map[string]bool{
		"http://127.0.0.1:41234": true, "http://127.0.0.1:41234/": true, "http://localhost:41234": true,
		"https://127.0.0.1:41234": false, "http://127.0.0.1:41235": false, "http://127.0.0.1:41234/api": false,
		"http://10.0.0.1:41234": false, "": false,
	} {
		if ep.Names(raw) != want {
			t.Errorf("Names(%q) = %v", raw, !want)
		}
	}
	if (*Endpoint)(nil).Names("http://127.0.0.1:41234") || (&Endpoint{}).Active() || !ep.Active() {
		t.Error("an endpoint without a port names nothing and is not active")
	}
}

// endpointFixture is a migration fixture whose state.json knows the
// endpoint's port, as the daemon leaves it.
func endpointFixture(t *testing.T) *migrationFixture {
	f := newMigrationFixture(t)
	t.Cleanup(func() { _ = f.store.Keychain.Delete(context.Background(), tokenAccountPrefix+DefaultProfile) })
	if err := f.store.SetEndpoint(41234, false); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *migrationFixture) config() map[string]any {
	f.t.Helper()
	b, err := os.ReadFile(f.path)
	if err != nil {
		f.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		f.t.Fatalf("config.json is not JSON: %v", err)
	}
	return m
}

func (f *migrationFixture) resolved() Resolution {
	f.t.Helper()
	r, err := f.store.Resolve(WithDoor(context.Background(), DoorToken), Request{})
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

func TestMigrateWritesTheLocalEndpoint(t *testing.T) {
	f := endpointFixture(t)
	ctx := context.Background()
	const endpointURL = "http://127.0.0.1:41234"
	f.write(`{"api_url": "https://staging.example", "api_key": "`+migKey+`", "x": {"y": 1}}`, 0o600)
	res, err := f.store.MigrateConfig(ctx)
	if err != nil || res.Outcome != Migrated || res.Endpoint != endpointURL {
		t.Fatalf("migration: %+v %v", res, err)
	}
	raw, _ := os.ReadFile(f.path)
	c := f.config()
	tok, _ := c["api_key"].(string)
	if !IsLocalToken(tok) || c["api_url"] != endpointURL || c["x"] == nil || !bytes.HasPrefix(raw, []byte(`{"api_url": "`+endpointURL+`", "api_key": "tcl_`)) {
		t.Fatalf("config.json after the migration: %s", raw)
	}
	st, _ := os.ReadFile(f.store.StateFile.Path())
	if bytes.Contains(st, []byte(tok)) || bytes.Contains(st, []byte(migKey)) {
		t.Error("state.json holds the token or the key")
	}
	if k, err := f.store.Keychain.Get(ctx, DefaultProfile); err != nil || k != migKey {
		t.Fatalf("the keychain holds %v %v", k == migKey, err)
	}
	// Every other door: the real key and config.json's former URL.
	if r := f.resolved(); r.Key != migKey || r.URL != "https://staging.example" || r.URLSource != FromConfig {
		t.Errorf("resolved %s %s (%s)", r.KeyHint, r.URL, r.URLSource)
	}

	// Its own file is no work: nothing rewritten, no warning.
	res, err = f.store.MigrateConfig(ctx)
	if again, _ := os.ReadFile(f.path); err != nil || res.Outcome != NothingToMigrate || !bytes.Equal(again, raw) {
		t.Fatalf("a second look: %+v %v, file changed %v", res, err, !bytes.Equal(again, raw))
	}

	// A URL the user writes later becomes the real one; the file names the
	// endpoint again.
	f.write(`{"api_url": "https://prod.example", "api_key": "`+tok+`", "x": {"y": 1}}`, 0o600)
	if res, err = f.store.MigrateConfig(ctx); err != nil || res.Endpoint != endpointURL {
		t.Fatalf("a new URL: %+v %v", res, err)
	}
	if c := f.config(); c["api_url"] != endpointURL || c["api_key"] != tok {
		t.Errorf("config.json after a new URL: %v", c)
	}
	if r := f.resolved(); r.URL != "https://prod.example" {
		t.Errorf("after a new URL the doors use %s", r.URL)
	}
	// Removed: the default.
	f.write(`{"api_key": "`+tok+`"}`, 0o600)
	if _, err = f.store.MigrateConfig(ctx); err != nil {
		t.Fatal(err)
	}
	if r := f.resolved(); r.URL != DefaultAPIURL || f.config()["api_url"] != endpointURL {
		t.Errorf("after removing the URL the doors use %s (%s)", r.URL, r.URLSource)
	}

	// A new plaintext key gets the same token: clients holding it go on.
	f.write(`{"api_key": "`+migKey2+`", "api_url": "`+endpointURL+`"}`, 0o600)
	if res, err = f.store.MigrateConfig(ctx); err != nil || res.Outcome != Migrated {
		t.Fatalf("a second key: %+v %v", res, err)
	}
	if c := f.config(); c["api_key"] != tok {
		t.Errorf("a second migration wrote another token")
	}
	if r := f.resolved(); r.Key != migKey2 || r.URL != DefaultAPIURL {
		t.Errorf("after a second key: %s %s", r.KeyHint, r.URL)
	}

	// Reissued: config.json gets the new one, the old one stops matching.
	hint, rewrote, err := f.store.ReissueLocalToken(ctx, DefaultProfile)
	newTok, _ := f.config()["api_key"].(string)
	ep, _ := f.store.EndpointState()
	if err != nil || !rewrote || newTok == tok || TokenHint(newTok) != hint {
		t.Fatalf("reissue: %v %v", rewrote, err)
	}
	if _, ok := ep.ProfileOf(tok); ok {
		t.Error("the old token still matches")
	}
	if p, ok := ep.ProfileOf(newTok); !ok || p != DefaultProfile {
		t.Error("the new token does not match")
	}

	// Turned off: the token and the endpoint's URL leave the file.
	if err := f.store.SetEndpoint(0, true); err != nil {
		t.Fatal(err)
	}
	f.write(`{"api_key": "`+newTok+`", "api_url": "`+endpointURL+`", "x": 1}`, 0o600)
	if _, err = f.store.MigrateConfig(ctx); err != nil {
		t.Fatal(err)
	}
	if c := f.config(); len(c) != 1 || c["x"] != float64(1) {
		t.Errorf("config.json with the endpoint off: %v", c)
	}
	f.write(`{"api_key": "`+migKey+`"}`, 0o600)
	if res, err = f.store.MigrateConfig(ctx); err != nil || res.Outcome != Migrated || res.Endpoint != "" {
		t.Fatalf("with the endpoint off: %+v %v", res, err)
	}
	if got, _ := os.ReadFile(f.path); string(got) != `{}` {
		t.Errorf("config.json with the endpoint off: %s", got)
	}
}
