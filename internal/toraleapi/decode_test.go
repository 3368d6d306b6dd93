package toraleapi

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestDecodeBothShapes(t *testing.T) {
	docs := `[{"id":"660e8400-e29b-41d4-a716-446655440000","key_prefix":"sk_...345pq","name":"CLI Key",
	"created_at":"2024-01-15T10:30:00Z","last_used_at":"2024-01-20T15:45:00Z","state":"active"},
	{"id":"770e","key_prefix":"sk_...xyz89","name":"P","created_at":"2024-01-10T09:00:00Z","last_used_at":null,"state":"revoked"}]`
	live := `[{"id":"a1","user_id":"u1","key_prefix":"sk_AbCdEfGhIjKl...","name":"CLI Key",
	"created_at":"2024-01-15T10:30:00.123456+00:00","last_used_at":null,"is_active":false}]`
	recs, err := decodeKeyList([]byte(docs))
	if err != nil || len(recs) != 2 || !recs[0].Active || recs[1].Active || recs[0].LastUsedAt == nil {
		t.Fatalf("docs: %+v, %v", recs, err)
	}
	if !recs[0].CreatedAt.Equal(time.Date(2024, 1, 15, 10, 30, 0, 0, time.UTC)) {
		t.Fatalf("created_at = %v", recs[0].CreatedAt)
	}
	recs, err = decodeKeyList([]byte(live))
	if err != nil || len(recs) != 1 || recs[0].Active || recs[0].UserID != "u1" || recs[0].CreatedAt == nil {
		t.Fatalf("live: %+v, %v", recs, err)
	}
	recs, err = decodeKeyList([]byte(`{"keys":` + live + `}`))
	if err != nil || len(recs) != 1 {
		t.Fatalf("wrapped: %+v, %v", recs, err)
	}
	if _, err := decodeKeyList([]byte(`{"nothing":1}`)); err == nil {
		t.Fatal("object without a list accepted")
	}

	key := "sk_abc123def456ghi789jkl012mno345pq"
	nk, err := decodeNewKey([]byte(`{"id":"660e","key":"` + key + `","key_prefix":"sk_...345pq","name":"CLI Key","created_at":"2024-01-15T10:30:00Z"}`))
	if err != nil || nk.Key != key || nk.Record.ID != "660e" || nk.Record.CreatedAt == nil || !nk.Record.Active {
		t.Fatalf("docs create: %+v, %v", nk, err)
	}
	nk, err = decodeNewKey([]byte(`{"key":"` + key + `","key_info":{"id":"b2","user_id":"u","key_prefix":"sk_abc123def456...","name":"n","created_at":"2024-01-15T10:30:00.5","last_used_at":null,"is_active":true}}`))
	if err != nil || nk.Record.ID != "b2" || nk.Record.CreatedAt == nil || !nk.Record.Active {
		t.Fatalf("live create: %+v, %v", nk, err)
	}
	_, err = decodeNewKey([]byte(`{"id":"x","key":"sk_short"}`))
	if err == nil || strings.Contains(err.Error(), "sk_short") {
		t.Fatalf("malformed key: %v", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"60": time.Minute, "": 0, "x": 0, "-5": 0, "999999": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

// FuzzDecode feeds arbitrary answers to both decoders: they must never
// panic, and a key they return must be well-formed.
func FuzzDecode(f *testing.F) {
	// Seeds holding key-shaped strings live here, not in testdata/fuzz, so
	// no data file carries one.
	f.Add([]byte("{\"key\":\"sk_abc123def456ghi789jkl012mno345pq\",\"key_info\":{\"id\":\"b2\",\"user_id\":\"u\",\"key_prefix\":\"sk_abc123def456...\",\"name\":\"n\",\"created_at\":\"2024-01-15T10:30:00.123456+00:00\",\"last_used_at\":null,\"is_active\":true}}")) // live create
	f.Add([]byte("{\"id\":7,\"key\":\"sk_abc123def456ghi789jkl012mno345pq\",\"created_at\":\"not a time\"}"))                                                                                                                                                           // odd types
	f.Add([]byte(`[{"id":"1","key_prefix":"sk_...345pq","state":"active","created_at":"2024-01-15T10:30:00Z"}]`))
	f.Add([]byte(`{"key":"sk_abc123def456ghi789jkl012mno345pq","key_info":{"id":"1","is_active":true}}`))
	f.Add([]byte(`{"api_keys":[{"id":7}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeKeyList(b)
		nk, err := decodeNewKey(b)
		if err == nil && !strings.HasPrefix(nk.Key, "sk_") {
			t.Fatalf("accepted key %q", nk.Key)
		}
	})
}

// BenchmarkDecodeKeyList decodes a live-shape listing of 20 keys.
func BenchmarkDecodeKeyList(b *testing.B) {
	one := `{"id":"a1","user_id":"u1","key_prefix":"sk_AbCdEfGhIjKl...","name":"CLI Key","created_at":"2024-01-15T10:30:00.123456+00:00","last_used_at":null,"is_active":true}`
	raw := []byte("[" + strings.Repeat(one+",", 19) + one + "]")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeKeyList(raw); err != nil {
			b.Fatal(err)
		}
	}
}
