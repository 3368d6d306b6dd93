package credstore

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/internal/testkeyring"
	"github.com/torale-ai/torale-cred/internal/toraleconfig"
)

// FuzzMigrateConfig feeds arbitrary bytes to the migration (keychain in
// memory) and checks the never-lose-data rule: either the file is left byte
// for byte and nothing is stored, or the keychain holds the file's key and
// the file holds every other top-level field, unchanged, and no key.
func FuzzMigrateConfig(f *testing.F) {
	// Seeds holding key-shaped strings live here, not in testdata/fuzz, so
	// no data file carries one.
	f.Add([]byte("{\"api_key\":\"sk_abc123def456ghi789jkl012mno345pqRST\",\"api_key\":\"sk_abc123def456ghi789jkl012mno345pqXYZ\"}"))                                         // duplicate key
	f.Add([]byte("{\"api\\u005fkey\": \"sk_abc123def456ghi789jkl012mno345pqRST\"}"))                                                                                         // escaped name
	f.Add([]byte("{\"api_key\": \"sk_abc123def456ghi789jkl012mno345pqRST\", \"api_u"))                                                                                       // half written
	f.Add([]byte("{\n  \"api_url\": \"https://torale.example.test\",\n  \"api_key\": \"sk_abc123def456ghi789jkl012mno345pqRST\",\n  \"extra\": [1, {\"api_key\": 2}]\n}\n")) // pretty with nested
	f.Add([]byte(`{"api_key": "sk_abc123def456ghi789jkl012mno345pqRST", "api_url": "https://x.test"}`))
	f.Add([]byte("{\n  \"api_url\": \"u\",\n  \"api_key\": \"sk_abc123def456ghi789jkl012mno345pqRST\"\n}\n"))
	f.Add([]byte(`{"api_key": "sk_abc123def456ghi789jkl012mno345pqRST", "api_key": "x"}`))
	f.Add([]byte(`{"api_key": "sk_abc\u003123def456ghi789jkl012mno345pqRST"}`))
	f.Add([]byte(`{"a": {"api_key": "sk_abc123def456ghi789jkl012mno345pqRST"}}`))
	f.Add([]byte("\xef\xbb\xbf{}"))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "config.json")
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		be := &testkeyring.Memory{}
		s := &Store{Keychain: keychain.New(keychain.WithKeyring(be)), StateFile: StateFile{Dir: filepath.Join(dir, "state")}, ConfigPath: path}
		res, err := s.MigrateConfig(context.Background())
		after, rerr := os.ReadFile(path)
		if rerr != nil {
			t.Fatalf("config.json gone: %v", rerr)
		}
		before, perr := toraleconfig.Parse(raw)
		if res.Outcome != Migrated {
			if !bytes.Equal(after, raw) {
				t.Fatalf("%s, yet the file changed", res.Outcome)
			}
			if len(be.Entries()) != 0 {
				t.Fatalf("%s, yet something was stored", res.Outcome)
			}
			if err != nil && len(before.APIKey) > 8 && strings.Contains(err.Error(), before.APIKey) {
				t.Fatalf("error shows the key: %v", err)
			}
			return
		}
		if err != nil || perr != nil || !apikey.Valid(before.APIKey) {
			t.Fatalf("migrated %q: err %v, parse %v", raw, err, perr)
		}
		if got := be.Entries()[keychain.Service+"/"+DefaultProfile]; got != before.APIKey {
			t.Fatalf("keychain holds %q, file had %q", got, before.APIKey)
		}
		ac, aerr := toraleconfig.Parse(after)
		if aerr != nil || ac.HasKey || ac.APIURL != before.APIURL {
			t.Fatalf("after: %q (%v)", after, aerr)
		}
		var mb, ma map[string]json.RawMessage
		_ = json.Unmarshal(raw, &mb)
		_ = json.Unmarshal(after, &ma)
		delete(mb, "api_key")
		if len(ma) != len(mb) {
			t.Fatalf("fields %v became %v", mb, ma)
		}
		for k, v := range mb {
			if !bytes.Equal(ma[k], v) {
				t.Fatalf("field %q: %s became %s", k, v, ma[k])
			}
		}
	})
}
