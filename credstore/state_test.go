package credstore

import (
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestStateFileFormat(t *testing.T) {
	f := StateFile{Dir: t.TempDir()}
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	if err := f.Update(func(s *State) error {
		s.Profiles["default"] = &Profile{KeyHint: "sk_...xyz89", StoredAt: at, Source: SourceLogin}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(f.Path())
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	if generic["version"] != float64(1) {
		t.Errorf("version = %v", generic["version"])
	}
	p := generic["profiles"].(map[string]any)["default"].(map[string]any)
	for _, k := range []string{"key_hint", "stored_at", "created_at", "key_id", "api_url", "source", "last_reminded_at"} {
		if _, ok := p[k]; !ok {
			t.Errorf("field %s missing: %s", k, raw)
		}
	}
	if p["stored_at"] != "2026-11-23T10:00:00Z" || p["created_at"] != nil {
		t.Errorf("times: %v %v", p["stored_at"], p["created_at"])
	}
	if st, _ := os.Stat(f.Path()); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
}

func TestStateFileConcurrentUpdatesLoseNothing(t *testing.T) {
	f := StateFile{Dir: t.TempDir()}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := "p" + strings.Repeat("x", i)
			if err := f.Update(func(s *State) error { s.Profiles[name] = &Profile{Source: SourceLogin}; return nil }); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	s, err := f.Load()
	if err != nil || len(s.Profiles) != 20 {
		t.Fatalf("%d profiles, %v", len(s.Profiles), err)
	}
}

func TestParseStateRefusals(t *testing.T) {
	for _, raw := range []string{`{`, `{"version": 2, "profiles": {}}`, `[]`} {
		if _, err := ParseState([]byte(raw)); err == nil {
			t.Errorf("ParseState(%q) accepted", raw)
		}
	}
	s, err := ParseState([]byte(`{"version":1,"profiles":{"a":null}}`))
	if err != nil || len(s.Profiles) != 0 {
		t.Errorf("null profile: %v %v", s, err)
	}
}

func FuzzParseState(f *testing.F) {
	f.Add([]byte(`{"version":1,"profiles":{"default":{"key_hint":"sk_...xyz89","stored_at":"2026-01-01T00:00:00Z","created_at":null,"key_id":null,"api_url":null,"source":"login","last_reminded_at":null}}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := ParseState(raw)
		if err != nil {
			return
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseState(b); err != nil {
			t.Fatalf("re-encoded state does not parse: %v", err)
		}
	})
}
