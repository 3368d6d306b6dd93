package daemon

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/keychain"
)

// filesFixture is a config.json and a state directory with a fileCache
// over them.
type filesFixture struct {
	cfg   string
	state credstore.StateFile
	fc    *fileCache
}

func newFilesFixture(t *testing.T, config string) *filesFixture {
	t.Helper()
	dir := t.TempDir()
	f := &filesFixture{cfg: filepath.Join(dir, "config.json"), state: credstore.StateFile{Dir: filepath.Join(dir, "state")}}
	writeFile(t, f.cfg, config)
	if err := f.state.Update(func(s *credstore.State) error {
		s.Profiles["default"] = &credstore.Profile{KeyHint: "sk_...AAAAA", StoredAt: t0, Source: credstore.SourceLogin}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	f.fc = newFileCache(credstore.DiskFiles{ConfigPath: f.cfg, StateFile: f.state})
	return f
}

func (f *filesFixture) apiURL(t *testing.T) string {
	t.Helper()
	snap, err := f.fc.Config()
	if err != nil {
		t.Fatalf("Config: %v", err)
	}
	if snap.Raw != nil {
		t.Fatal("the cache keeps config.json's raw bytes (a key among them, until it is moved)")
	}
	return snap.Config.APIURL
}

func (f *filesFixture) hint(t *testing.T) string {
	t.Helper()
	st, err := f.fc.State()
	if err != nil {
		t.Fatalf("State: %v", err)
	}
	if p := st.Profiles["default"]; p != nil {
		return p.KeyHint
	}
	return ""
}

// The cache serves both files as last loaded: changing, even removing,
// them on disk shows nowhere until Reload, which reads both afresh.
func TestFileCacheServesFromMemoryUntilReload(t *testing.T) {
	t.Parallel()
	f := newFilesFixture(t, `{"api_url": "https://one.example"}`)
	if got := f.apiURL(t); got != "https://one.example" {
		t.Fatalf("api_url = %q", got)
	}
	if got := f.hint(t); got != "sk_...AAAAA" {
		t.Fatalf("key_hint = %q", got)
	}

	writeFile(t, f.cfg, `{"api_url": "https://two.example"}`)
	if err := f.state.Update(func(s *credstore.State) error { s.Profiles["default"].KeyHint = "sk_...BBBBB"; return nil }); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if got := f.apiURL(t); got != "https://one.example" {
			t.Fatalf("before Reload: api_url = %q, want the loaded one", got)
		}
		if got := f.hint(t); got != "sk_...AAAAA" {
			t.Fatalf("before Reload: key_hint = %q, want the loaded one", got)
		}
	}
	f.fc.Reload()
	if got, hint := f.apiURL(t), f.hint(t); got != "https://two.example" || hint != "sk_...BBBBB" {
		t.Fatalf("after Reload: api_url %q, key_hint %q", got, hint)
	}

	// Gone from disk: still served (a look-up reads no file), until Reload.
	if err := os.Remove(f.cfg); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(f.state.Dir); err != nil {
		t.Fatal(err)
	}
	if got, hint := f.apiURL(t), f.hint(t); got != "https://two.example" || hint != "sk_...BBBBB" {
		t.Fatalf("files removed, before Reload: api_url %q, key_hint %q", got, hint)
	}
	f.fc.Reload()
	snap, err := f.fc.Config()
	if err != nil || snap.Exists || f.hint(t) != "" {
		t.Fatalf("after Reload with both files gone: config exists %v (%v), key_hint %q", snap.Exists, err, f.hint(t))
	}
}

// A Store over the cache sees its own writes at once (it reloads after
// writing), and another program's writes only once the watcher says so.
func TestFileCacheStoreWritesReload(t *testing.T) {
	t.Parallel()
	f := newFilesFixture(t, `{}`)
	st := &credstore.Store{
		Keychain:   keychain.New(keychain.WithKeyring(newMemKeyring(map[string]string{}))),
		StateFile:  f.state,
		ConfigPath: f.cfg,
		Files:      f.fc,
	}
	ctx := context.Background()
	url := "https://profile.example"
	if _, err := st.Put(ctx, "work", cacheKey2, credstore.PutOptions{APIURL: &url}); err != nil {
		t.Fatal(err)
	}
	r, err := st.Resolve(ctx, credstore.Request{Profile: "work"})
	if err != nil || r.URL != url || r.URLSource != credstore.FromProfile || r.Rotation == nil {
		t.Fatalf("right after Put: %s from %s, rotation %v, %v", r.URL, r.URLSource, r.Rotation, err)
	}
	list, err := st.List(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("List after Put: %d profiles, %v; want default and work", len(list), err)
	}

	// Another program drops the profile's URL: unseen until a reload.
	if err := f.state.Update(func(s *credstore.State) error { s.Profiles["work"].APIURL = nil; return nil }); err != nil {
		t.Fatal(err)
	}
	if r, _ := st.Resolve(ctx, credstore.Request{Profile: "work"}); r.URL != url {
		t.Fatalf("before the reload: %s, want the cached %s", r.URL, url)
	}
	f.fc.Reload()
	if r, _ := st.Resolve(ctx, credstore.Request{Profile: "work"}); r.URL != credstore.DefaultAPIURL || r.URLSource != credstore.FromDefault {
		t.Fatalf("after the reload: %s from %s, want the default", r.URL, r.URLSource)
	}

	if err := st.Delete(ctx, "work"); err != nil {
		t.Fatal(err)
	}
	if list, _ := st.List(ctx); len(list) != 1 || list[0].Name != "default" {
		t.Fatalf("List right after Delete: %+v", list)
	}
}
