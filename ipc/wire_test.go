package ipc_test

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/ipc"
)

// TestDecodeStrict is the decoder alone: what it makes of a body, and that
// every refusal is ErrBadRequest.
func TestDecodeStrict(t *testing.T) {
	cases := []struct {
		body string
		want credstore.Request
		err  bool
	}{
		{"", credstore.Request{}, false},
		{" {} ", credstore.Request{}, false},
		{`{"env":{"TORALE_PROFILE":"work","PATH":"/bin"}}`, credstore.Request{Env: credstore.Env{Profile: "work"}}, false},
		{`{"profile":"a","env":{"TORALE_PROFILE":"work"}}`, credstore.Request{Profile: "a", Env: credstore.Env{Profile: "work"}}, false},
		{`{"profile":"p","api_key":"k","api_url":"u","env":{"TORALE_API_KEY":"ek","TORALE_API_URL":"eu","TORALE_DEV":"1","TORALE_NOAUTH":"0"}}`,
			credstore.Request{Profile: "p", FlagKey: "k", FlagURL: "u", Env: credstore.Env{APIKey: "ek", APIURL: "eu", Dev: "1", NoAuth: "0"}}, false},
		{`{"profile":""}`, credstore.Request{}, false},
		{`null`, credstore.Request{}, false},
		{`{"profile":null}`, credstore.Request{}, false},
		// The profile's rules are the Backend's (credstore.ProfileOf), not the decoder's.
		{`{"profile":"x y"}`, credstore.Request{Profile: "x y"}, false},
		{`{"profile":1}`, credstore.Request{}, true},
		{`{"Profile":"x","profile":"y"}`, credstore.Request{}, true},
		{`{"profile":"x","profile":"x"}`, credstore.Request{}, true},
		{`{"env":{"TORALE_DEV":"1","TORALE_DEV":"1"}}`, credstore.Request{}, true},
		{`{"env":[]}`, credstore.Request{}, true},
		{`{}x`, credstore.Request{}, true},
		{`{"api_key":"sk_abc123def456ghi789jkl012mno345pqRST","x":1}`, credstore.Request{}, true},
	}
	for _, c := range cases {
		var got credstore.Request
		err := ipc.DecodeStrict([]byte(c.body), &got)
		if (err != nil) != c.err || (!c.err && got != c.want) {
			t.Errorf("DecodeStrict(%q) = %+v, %v; want %+v, err=%v", c.body, got, err, c.want, c.err)
		}
		if err != nil && !errors.Is(err, credstore.ErrBadRequest) {
			t.Errorf("DecodeStrict(%q): %v is not ErrBadRequest", c.body, err)
		}
		if err != nil && strings.Contains(err.Error(), "sk_abc") {
			t.Errorf("error quotes the key: %v", err)
		}
	}

	var pb ipc.PutBody
	if err := ipc.DecodeStrict([]byte(`{"api_key":"k","source":"git","created_at":"2026-01-02T03:04:05Z","key_id":"i","api_url":""}`), &pb); err != nil ||
		pb.APIKey != "k" || pb.Source != "git" || pb.CreatedAt == nil || pb.KeyID == nil || *pb.KeyID != "i" || pb.APIURL == nil || *pb.APIURL != "" {
		t.Errorf("put body: %+v %v", pb, err)
	}
}

// TestClientEncodingIsAccepted: whatever ipc.Client sends, the strict
// decoder takes back unchanged (the two sides agree on every name).
func TestClientEncodingIsAccepted(t *testing.T) {
	req := credstore.Request{Profile: "p", FlagKey: "sk_flag", FlagURL: "https://f", RotateAfterSeconds: 7, URLOnly: true,
		Env: credstore.Env{APIKey: "sk_env", APIURL: "https://e", Dev: "1", NoAuth: "1", Profile: "q"}}
	for _, r := range []credstore.Request{{}, req} {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back credstore.Request
		if err := ipc.DecodeStrict(b, &back); err != nil || back != r {
			t.Errorf("%s: %+v, %v", b, back, err)
		}
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	id, u := "k1", "https://x"
	for _, o := range []credstore.PutOptions{{}, {Source: credstore.SourceRotate, CreatedAt: &at, KeyID: &id, APIURL: &u}} {
		b, err := json.Marshal(ipc.PutBody{APIKey: "sk_put", PutOptions: o})
		if err != nil {
			t.Fatal(err)
		}
		var back ipc.PutBody
		if err := ipc.DecodeStrict(b, &back); err != nil || back.APIKey != "sk_put" || !samePutOptions(back.PutOptions, o) {
			t.Errorf("%s: %+v, %v", b, back, err)
		}
	}
}

func samePutOptions(a, b credstore.PutOptions) bool {
	eqs := func(x, y *string) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	eqt := func(x, y *time.Time) bool { return (x == nil) == (y == nil) && (x == nil || x.Equal(*y)) }
	return a.Source == b.Source && eqs(a.KeyID, b.KeyID) && eqs(a.APIURL, b.APIURL) && eqt(a.CreatedAt, b.CreatedAt)
}

// skRun finds "sk_" and what follows it as a key would.
var skRun = regexp.MustCompile(`sk_[A-Za-z0-9_-]*`)

// FuzzDecodeRequest: the strict decoder, given any body as a resolve or a
// put request, never panics; when it refuses, the error is ErrBadRequest
// and names nothing key-shaped (no "sk_" at all: its sentences are its own
// and a field name holding "sk_" is left out of them), so no part of a key
// in the body beyond SPEC's 7 characters can come back; when it accepts, the
// client's own encoding of the result decodes back to the same request.
//
// Seeds holding key-shaped strings are here in f.Add, never in
// testdata/fuzz.
func FuzzDecodeRequest(f *testing.F) {
	const key = "sk_abc123def456ghi789jkl012mno345pqRST"
	for _, s := range []string{"", "{}", "null", `{"profile":"work"}`, `{"env":{"TORALE_NOAUTH":"1"}}`,
		`{"profile":"default","api_key":"` + key + `","api_url":"http://x","env":{"TORALE_API_KEY":"` + key + `","TORALE_API_URL":"u","TORALE_DEV":"1","TORALE_NOAUTH":"1","TORALE_PROFILE":"p"}}`,
		`{"` + key + `":1}`, `{"env":{"` + key + `":1,"` + key + `":2}}`, `{"\u0073k_abc123def456ghi789jkl012mno345pqRST":1}`,
		`{"api_key":"` + key + `","api_key":"` + key + `"}`, `{"Api_Key":"` + key + `"}`, `{"API_KEY":"` + key + `"}`,
		`{"env":{"TORALE_API_KEY":"` + key + `","TORALE_API_KEY":"x"}}`, `{"env":{"TORALE_API_KEY":["` + key + `"]}}`,
		`{"rotate_after_seconds":"` + key + `"}`, `{"url_only":"` + key + `"}`, `"` + key + `"`, `{"api_key":"` + key + `"}` + key,
		`{"api_key":"` + key + `","source":"rotate","created_at":"2026-01-02T03:04:05Z","key_id":"k1","api_url":"https://x"}`,
		`{"api_key":"` + key + `","created_at":"` + key + `"}`, `{"api_key":"` + key + `","key_id":` + "1" + `}`,
		`{"api_key":1}`, "\x00", `{"profile":"\u0000"}`, `[`, `{"env":{"TORALE_DEV":{}}}`, `{"env":null}`, `{}x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(what string, err error) {
			if err == nil {
				return
			}
			if !errors.Is(err, credstore.ErrBadRequest) {
				t.Fatalf("%s: %v is not ErrBadRequest", what, err)
			}
			msg := err.Error()
			if strings.Contains(msg, "sk_") {
				t.Fatalf("%s: error %q names something key-shaped", what, msg)
			}
			for _, k := range skRun.FindAllString(string(body), -1) {
				if len(k) > 7 && strings.Contains(msg, k[:8]) {
					t.Fatalf("%s: error %q quotes %q from the body", what, msg, k)
				}
			}
		}

		var req credstore.Request
		err := ipc.DecodeStrict(append([]byte(nil), body...), &req)
		check("resolve", err)
		if err == nil {
			b, merr := json.Marshal(req)
			if merr != nil {
				t.Fatalf("encoding %+v: %v", req, merr)
			}
			var again credstore.Request
			if err := ipc.DecodeStrict(b, &again); err != nil || again != req {
				t.Fatalf("round trip: %+v -> %s -> %+v, %v", req, b, again, err)
			}
		}

		var pb ipc.PutBody
		err = ipc.DecodeStrict(append([]byte(nil), body...), &pb)
		check("put", err)
		if err == nil {
			b, merr := json.Marshal(pb)
			if merr != nil {
				// encoding/json refuses years past 9999, which RFC 3339
				// parsing cannot produce; anything else is a bug.
				if pb.CreatedAt == nil {
					t.Fatalf("encoding %+v: %v", pb, merr)
				}
				return
			}
			var again ipc.PutBody
			if err := ipc.DecodeStrict(b, &again); err != nil || again.APIKey != pb.APIKey || !samePutOptions(again.PutOptions, pb.PutOptions) {
				t.Fatalf("round trip: %+v -> %s -> %+v, %v", pb, b, again, err)
			}
		}
	})
}
