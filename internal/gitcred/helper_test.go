package gitcred

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
)

// Pure unit tests of the helper's rules over a real Store whose keychain is
// an in-memory map; the end-to-end tests with real git and the real Secret
// Service are in cmd/torale-cred/testdata/git_credential.txtar.

const (
	keyDefault = "sk_abc123def456ghi789jkl012mno345pqRST"
	keyWork    = "sk_WORKwork0123456789WORKwork0123456789ab"
	keyCorp    = "sk_CORPcorp0123456789CORPcorp0123456789cd"
	keyEnv     = "sk_ENVenvENVenvENVenvENVenvENVenv1234"
	keyNew     = "sk_NEWnewNEWnewNEWnewNEWnewNEWnew56789"
)

type memBackend struct {
	mu   sync.Mutex
	m    map[string]string
	fail error
}

func (b *memBackend) Get(s, u string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail != nil {
		return "", b.fail
	}
	v, ok := b.m[s+"/"+u]
	if !ok {
		return "", keyring.ErrNotFound
	}
	return v, nil
}

func (b *memBackend) Set(s, u, p string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail != nil {
		return b.fail
	}
	b.m[s+"/"+u] = p
	return nil
}

func (b *memBackend) Delete(s, u string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail != nil {
		return b.fail
	}
	if _, ok := b.m[s+"/"+u]; !ok {
		return keyring.ErrNotFound
	}
	delete(b.m, s+"/"+u)
	return nil
}

type fixture struct {
	t       *testing.T
	backend *memBackend
	store   *credstore.Store
	stderr  bytes.Buffer
}

// newFixture: profile "default" (api.torale.ai), "work" (api.torale.ai) and
// "corp" (self-hosted at https://torale.corp.example:8443/api).
func newFixture(t *testing.T) *fixture {
	t.Helper()
	b := &memBackend{m: map[string]string{}}
	dir := t.TempDir()
	st := &credstore.Store{
		Keychain:   keychain.New(keychain.WithKeyring(b), keychain.WithTimeout(time.Second)),
		StateFile:  credstore.StateFile{Dir: filepath.Join(dir, "state")},
		ConfigPath: filepath.Join(dir, "config.json"),
	}
	fx := &fixture{t: t, backend: b, store: st}
	ctx := context.Background()
	corpURL := "https://torale.corp.example:8443/api"
	for _, p := range []struct {
		name, key string
		url       *string
	}{{"default", keyDefault, nil}, {"work", keyWork, nil}, {"corp", keyCorp, &corpURL}} {
		if _, err := st.Put(ctx, p.name, p.key, credstore.PutOptions{Source: credstore.SourceLogin, APIURL: p.url}); err != nil {
			t.Fatal(err)
		}
	}
	return fx
}

func (fx *fixture) helper(env credstore.Env) *Helper {
	return &Helper{Keys: fx.store, Profile: "default", Env: env, Stderr: &fx.stderr}
}

func (fx *fixture) stored(profile string) string {
	k, err := fx.store.Keychain.Get(context.Background(), profile)
	if errors.Is(err, storeerr.ErrNotFound) {
		return ""
	}
	if err != nil {
		fx.t.Fatal(err)
	}
	return k
}

func req(lines ...string) Credential {
	c, err := Parse(strings.NewReader(strings.Join(lines, "\n") + "\n"))
	if err != nil {
		panic(err)
	}
	return c
}

func TestGet(t *testing.T) {
	tests := []struct {
		name     string
		env      credstore.Env
		in       Credential
		user     string // "" = no answer
		password string
	}{
		{"default host", credstore.Env{}, req("protocol=https", "host=api.torale.ai"), "default", keyDefault},
		{"host case and default port", credstore.Env{}, req("protocol=HTTPS", "host=API.Torale.AI:443"), "default", keyDefault},
		{"username selects a profile", credstore.Env{}, req("protocol=https", "host=api.torale.ai", "username=work"), "work", keyWork},
		{"username that is no profile falls back", credstore.Env{}, req("protocol=https", "host=api.torale.ai", "username=alice@example.com"), "default", keyDefault},
		{"self-hosted host answers its profile", credstore.Env{}, req("protocol=https", "host=torale.corp.example:8443"), "corp", keyCorp},
		{"self-hosted key never goes to api.torale.ai", credstore.Env{}, req("protocol=https", "host=api.torale.ai", "username=corp"), "", ""},
		{"a profile's key never goes to another profile's server", credstore.Env{}, req("protocol=https", "host=torale.corp.example:8443", "username=work"), "", ""},
		{"wrong host", credstore.Env{}, req("protocol=https", "host=github.com"), "", ""},
		{"look-alike host", credstore.Env{}, req("protocol=https", "host=api.torale.ai.evil.example"), "", ""},
		{"right host, plain http", credstore.Env{}, req("protocol=http", "host=api.torale.ai"), "", ""},
		{"right host, other port", credstore.Env{}, req("protocol=https", "host=api.torale.ai:8443"), "", ""},
		{"no host (CVE-2020-11008)", credstore.Env{}, req("protocol=https"), "", ""},
		{"no protocol (CVE-2020-11008)", credstore.Env{}, req("host=api.torale.ai"), "", ""},
		{"empty host", credstore.Env{}, req("protocol=https", "host="), "", ""},
		{"quit", credstore.Env{}, req("protocol=https", "host=api.torale.ai", "quit=1"), "", ""},
		{"capabilities accepted", credstore.Env{}, req("capability[]=authtype", "capability[]=state", "protocol=https", "host=api.torale.ai", "wwwauth[]=Bearer"), "default", keyDefault},
		{"localhost without dev mode", credstore.Env{}, req("protocol=http", "host=localhost:8000"), "", ""},
		// Dev mode alone never sends a key to plain-http localhost (finding 5):
		// only a URL the user named does.
		{"localhost in dev mode alone", credstore.Env{Dev: "1"}, req("protocol=http", "host=localhost:8000"), "", ""},
		{"localhost with TORALE_NOAUTH=1 alone", credstore.Env{NoAuth: "1"}, req("protocol=http", "host=localhost:8000"), "", ""},
		{"localhost named by TORALE_API_URL", credstore.Env{Dev: "1", APIURL: "http://localhost:8000"}, req("protocol=http", "host=localhost:8000"), "default", keyDefault},
		{"TORALE_DEV=true is not dev mode", credstore.Env{Dev: "true"}, req("protocol=http", "host=localhost:8000"), "", ""},
		{"environment beats stored", credstore.Env{APIKey: keyEnv}, req("protocol=https", "host=api.torale.ai"), "default", keyEnv},
		{"environment key stays with its TORALE_API_URL", credstore.Env{APIKey: keyEnv, APIURL: "https://torale.corp.example:8443"}, req("protocol=https", "host=api.torale.ai"), "", ""},
		{"environment key for its TORALE_API_URL", credstore.Env{APIKey: keyEnv, APIURL: "https://torale.corp.example:8443"}, req("protocol=https", "host=torale.corp.example:8443"), "default", keyEnv},
		{"a bad TORALE_API_URL names no host", credstore.Env{APIURL: "https://api.torale.ai\x00"}, req("protocol=https", "host=api.torale.ai"), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			got, ok, err := fx.helper(tt.env).Get(context.Background(), tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if ok != (tt.user != "") || got.Username != tt.user || got.Password != tt.password {
				t.Fatalf("Get = %q/%q (%v), want %q/%q", got.Username, got.Password, ok, tt.user, tt.password)
			}
		})
	}
}

func TestGetFallsToAnotherProfileOfTheHost(t *testing.T) {
	fx := newFixture(t)
	if err := fx.store.Delete(context.Background(), "default"); err != nil {
		t.Fatal(err)
	}
	got, ok, err := fx.helper(credstore.Env{}).Get(context.Background(), req("protocol=https", "host=api.torale.ai"))
	if err != nil || !ok || got.Username != "work" || got.Password != keyWork {
		t.Fatalf("Get = %+v %v %v, want work's key", got, ok, err)
	}
}

// TORALE_PROFILE (or --profile) chosen: no other profile answers when git
// sends no username, whatever host they share.
func TestGetChosenProfileOnly(t *testing.T) {
	fx := newFixture(t)
	if err := fx.store.Delete(context.Background(), "default"); err != nil {
		t.Fatal(err)
	}
	h := fx.helper(credstore.Env{})
	h.Chosen = true
	if got, ok, err := h.Get(context.Background(), req("protocol=https", "host=api.torale.ai")); ok || err != nil {
		t.Fatalf("Get = %+v %v %v, want nothing: the chosen profile has no key", got, ok, err)
	}
	h.Profile = "work"
	if got, ok, _ := h.Get(context.Background(), req("protocol=https", "host=api.torale.ai")); !ok || got.Username != "work" {
		t.Fatalf("Get = %+v %v, want work", got, ok)
	}
}

func TestGetConfigURLIsKnown(t *testing.T) {
	fx := newFixture(t)
	if err := os.WriteFile(fx.store.ConfigPath, []byte(`{"api_url": "http://torale.lan:9000"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	got, ok, err := fx.helper(credstore.Env{}).Get(context.Background(), req("protocol=http", "host=torale.lan:9000"))
	if err != nil || !ok || got.Username != "default" || got.Password != keyDefault {
		t.Fatalf("Get = %+v %v %v", got, ok, err)
	}
}

func TestGetKeychainFailure(t *testing.T) {
	fx := newFixture(t)
	fx.backend.fail = errors.New("org.freedesktop.DBus.Error.ServiceUnknown")
	h := fx.helper(credstore.Env{})
	_, ok, err := h.Get(context.Background(), req("protocol=https", "host=api.torale.ai"))
	if ok || !errors.Is(err, storeerr.ErrKeychain) {
		t.Fatalf("Get = %v, %v; want a keychain error", ok, err)
	}
	// An unknown host never touches the keychain, so it is still silent.
	if _, ok, err := h.Get(context.Background(), req("protocol=https", "host=github.com")); ok || err != nil {
		t.Fatalf("unknown host: %v %v", ok, err)
	}
}

func TestStore(t *testing.T) {
	tests := []struct {
		name    string
		env     credstore.Env
		in      Credential
		profile string
		want    string // the key the profile holds afterwards
		note    string
	}{
		{"good key replaces", credstore.Env{}, req("protocol=https", "host=api.torale.ai", "username=default", "password="+keyNew), "default", keyNew, ""},
		{"no username: selected profile", credstore.Env{}, req("protocol=https", "host=api.torale.ai", "password="+keyNew), "default", keyNew, ""},
		{"new profile", credstore.Env{}, req("protocol=https", "host=api.torale.ai", "username=fresh", "password="+keyNew), "fresh", keyNew, ""},
		{"malformed key", credstore.Env{}, req("protocol=https", "host=api.torale.ai", "username=default", "password=hunter2"), "default", keyDefault, "not a Torale API key"},
		{"key with a space", credstore.Env{}, req("protocol=https", "host=api.torale.ai", "username=default", "password= "+keyNew), "default", keyDefault, "not a Torale API key"},
		{"username no profile can have", credstore.Env{}, req("protocol=https", "host=api.torale.ai", "username=alice@example.com", "password="+keyNew), "default", keyDefault, "not a profile name"},
		{"unknown host", credstore.Env{}, req("protocol=https", "host=github.com", "username=default", "password="+keyNew), "default", keyDefault, ""},
		{"other server's host", credstore.Env{}, req("protocol=https", "host=torale.corp.example:8443", "username=default", "password="+keyNew), "default", keyDefault, "another server"},
		{"self-hosted", credstore.Env{}, req("protocol=https", "host=torale.corp.example:8443", "username=corp", "password="+keyNew), "corp", keyNew, ""},
		{"no host", credstore.Env{}, req("protocol=https", "username=default", "password="+keyNew), "default", keyDefault, ""},
		{"quit", credstore.Env{}, req("protocol=https", "host=api.torale.ai", "username=default", "password="+keyNew, "quit=1"), "default", keyDefault, ""},
		{"the environment's key is not persisted", credstore.Env{APIKey: keyEnv}, req("protocol=https", "host=api.torale.ai", "username=default", "password="+keyEnv), "default", keyDefault, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			if err := fx.helper(tt.env).Store(context.Background(), tt.in); err != nil {
				t.Fatal(err)
			}
			if got := fx.stored(tt.profile); got != tt.want {
				t.Fatalf("profile %s holds %s, want %s", tt.profile, apikey.Hint(got), apikey.Hint(tt.want))
			}
			if tt.note == "" && fx.stderr.Len() != 0 || !strings.Contains(fx.stderr.String(), tt.note) {
				t.Fatalf("stderr %q, want %q", fx.stderr.String(), tt.note)
			}
			if strings.Contains(fx.stderr.String(), keyNew[3:]) || strings.Contains(fx.stderr.String(), "hunter2") {
				t.Fatal("a key reached stderr")
			}
		})
	}
}

func TestStoreRecordsSourceGit(t *testing.T) {
	fx := newFixture(t)
	if err := fx.helper(credstore.Env{}).Store(context.Background(), req("protocol=https", "host=api.torale.ai", "username=default", "password="+keyNew)); err != nil {
		t.Fatal(err)
	}
	meta, err := fx.store.StateFile.Load()
	if err != nil {
		t.Fatal(err)
	}
	if p := meta.Profiles["default"]; p.Source != credstore.SourceGit || p.KeyHint != apikey.Hint(keyNew) {
		t.Fatalf("metadata %+v", p)
	}
	// Approving the key just answered rewrites nothing.
	before, _ := os.ReadFile(fx.store.StateFile.Path())
	if err := fx.helper(credstore.Env{}).Store(context.Background(), req("protocol=https", "host=api.torale.ai", "username=default", "password="+keyNew)); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(fx.store.StateFile.Path())
	if !bytes.Equal(before, after) {
		t.Fatal("approving the stored key rewrote the metadata")
	}
}

func TestErase(t *testing.T) {
	tests := []struct {
		name    string
		in      Credential
		profile string
		gone    bool
	}{
		{"right password", req("protocol=https", "host=api.torale.ai", "username=default", "password="+keyDefault), "default", true},
		{"wrong password", req("protocol=https", "host=api.torale.ai", "username=default", "password="+keyWork), "default", false},
		{"prefix of the key", req("protocol=https", "host=api.torale.ai", "username=default", "password="+keyDefault[:20]), "default", false},
		{"no password", req("protocol=https", "host=api.torale.ai", "username=default"), "default", false},
		{"username selects", req("protocol=https", "host=api.torale.ai", "username=work", "password="+keyWork), "work", true},
		{"unknown host", req("protocol=https", "host=github.com", "username=default", "password="+keyDefault), "default", false},
		{"another server's host", req("protocol=https", "host=torale.corp.example:8443", "username=default", "password="+keyDefault), "default", false},
		{"self-hosted", req("protocol=https", "host=torale.corp.example:8443", "username=corp", "password="+keyCorp), "corp", true},
		{"no host", req("protocol=https", "username=default", "password="+keyDefault), "default", false},
		{"quit", req("protocol=https", "host=api.torale.ai", "username=default", "password="+keyDefault, "quit=1"), "default", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			if err := fx.helper(credstore.Env{}).Erase(context.Background(), tt.in); err != nil {
				t.Fatal(err)
			}
			if gone := fx.stored(tt.profile) == ""; gone != tt.gone {
				t.Fatalf("key gone = %v, want %v", gone, tt.gone)
			}
		})
	}
}

func TestEraseKeychainFailure(t *testing.T) {
	fx := newFixture(t)
	fx.backend.fail = errors.New("org.freedesktop.DBus.Error.ServiceUnknown")
	err := fx.helper(credstore.Env{}).Erase(context.Background(), req("protocol=https", "host=api.torale.ai", "username=default", "password="+keyDefault))
	if !errors.Is(err, storeerr.ErrKeychain) {
		t.Fatalf("Erase = %v, want a keychain error", err)
	}
}

func TestKnownURLs(t *testing.T) {
	fx := newFixture(t)
	lan := "http://torale.lan:9000"
	if _, err := fx.store.Put(context.Background(), "lan", keyNew, credstore.PutOptions{APIURL: &lan}); err != nil {
		t.Fatal(err)
	}
	got, err := fx.helper(credstore.Env{Dev: "1"}).KnownURLs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Dev mode makes every profile's URL localhost:8000, which nobody named:
	// it is not configured; with no dev mode each profile's own is.
	if strings.Join(got, " ") != "https://api.torale.ai" {
		t.Fatalf("KnownURLs in dev mode = %v", got)
	}
	got, _ = fx.helper(credstore.Env{}).KnownURLs(context.Background())
	want := []string{"https://api.torale.ai", "https://torale.corp.example:8443", "http://torale.lan:9000"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("KnownURLs = %v, want %v", got, want)
	}
}

func TestBrokenMetadata(t *testing.T) {
	fx := newFixture(t)
	if err := os.WriteFile(fx.store.StateFile.Path(), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := fx.helper(credstore.Env{})
	if _, ok, err := h.Get(context.Background(), req("protocol=https", "host=api.torale.ai")); ok || err == nil {
		t.Fatalf("api.torale.ai with broken metadata: %v %v, want the error", ok, err)
	}
	if _, ok, err := h.Get(context.Background(), req("protocol=https", "host=github.com")); ok || err != nil {
		t.Fatalf("github.com with broken metadata: %v %v, want silence", ok, err)
	}
}
