package ipc_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/ipc"
)

func TestDecodeResolveRequest(t *testing.T) {
	cases := []struct {
		body string
		want credstore.Request
		err  bool
	}{
		{"", credstore.Request{Profile: "default"}, false},
		{" {} ", credstore.Request{Profile: "default"}, false},
		{`{"env":{"TORALE_PROFILE":"work","PATH":"/bin"}}`, credstore.Request{Profile: "work"}, false},
		{`{"profile":"a","env":{"TORALE_PROFILE":"work"}}`, credstore.Request{Profile: "a"}, false},
		{`{"profile":"p","api_key":"k","api_url":"u","env":{"TORALE_API_KEY":"ek","TORALE_API_URL":"eu","TORALE_DEV":"1","TORALE_NOAUTH":"0"}}`,
			credstore.Request{Profile: "p", FlagKey: "k", FlagURL: "u", Env: credstore.Env{APIKey: "ek", APIURL: "eu", Dev: "1", NoAuth: "0"}}, false},
		{`{"profile":""}`, credstore.Request{Profile: "default"}, false},
		{`null`, credstore.Request{Profile: "default"}, false},
		{`{"profile":null}`, credstore.Request{Profile: "default"}, false},
		{`{"profile":"x y"}`, credstore.Request{}, true},
		{`{"profile":1}`, credstore.Request{}, true},
		{`{"Profile":"x","profile":"y"}`, credstore.Request{Profile: "y"}, false},
		{`{"env":[]}`, credstore.Request{}, true},
		{`{}x`, credstore.Request{}, true},
		{`{"api_key":"sk_abc123def456ghi789jkl012mno345pqRST","x":1}`, credstore.Request{}, true},
	}
	for _, c := range cases {
		got, err := ipc.DecodeResolveRequest([]byte(c.body))
		if (err != nil) != c.err || (!c.err && got != c.want) {
			t.Errorf("DecodeResolveRequest(%q) = %+v, %v; want %+v, err=%v", c.body, got, err, c.want, c.err)
		}
		if err != nil && strings.Contains(err.Error(), "sk_abc") {
			t.Errorf("error quotes the key: %v", err)
		}
	}
}

// FuzzDecodeResolveRequest: any body either decodes to a request with a
// valid profile that survives the client's encoding unchanged, or is
// refused with a message that never quotes a key from the body.
func FuzzDecodeResolveRequest(f *testing.F) {
	for _, s := range []string{"", "{}", `{"profile":"work"}`, `{"env":{"TORALE_NOAUTH":"1"}}`,
		`{"profile":"default","api_key":"sk_abc123def456ghi789jkl012mno345pqRST","api_url":"http://x","env":{"TORALE_API_KEY":"sk_x","TORALE_API_URL":"u","TORALE_DEV":"1","TORALE_NOAUTH":"1","TORALE_PROFILE":"p"}}`,
		`{"sk_abc123def456ghi789jkl012mno345pqRST":1}`, "\x00", `{"profile":"\u0000"}`, `[`, `{"env":{"TORALE_DEV":{}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ipc.DecodeResolveRequest(body)
		if err != nil {
			msg := err.Error()
			for _, field := range strings.FieldsFunc(string(body), func(r rune) bool { return r == '"' || r == ' ' }) {
				if strings.HasPrefix(field, "sk_") && len(field) > 12 && strings.Contains(msg, field) {
					t.Fatalf("error %q quotes %q from the body", msg, field)
				}
			}
			return
		}
		if credstore.CheckProfile(req.Profile) != nil {
			t.Fatalf("accepted profile %q", req.Profile)
		}
		b, err := json.Marshal(ipc.RequestFrom(req))
		if err != nil {
			t.Fatal(err)
		}
		again, err := ipc.DecodeResolveRequest(b)
		if err != nil || again != req {
			t.Fatalf("round trip: %+v -> %s -> %+v, %v", req, b, again, err)
		}
	})
}

// FuzzDecodePutRequest: a PUT body is either a request with a key and a
// known source, or refused without quoting the key.
func FuzzDecodePutRequest(f *testing.F) {
	for _, s := range []string{`{"api_key":"sk_abc123def456ghi789jkl012mno345pqRST"}`,
		`{"api_key":"sk_abc123def456ghi789jkl012mno345pqRST","source":"rotate","created_at":"2026-01-02T03:04:05Z","key_id":"k1","api_url":"https://x"}`,
		`{"api_key":"sk_abc123def456ghi789jkl012mno345pqRST","source":"nope"}`, `{"api_key":1}`, `{}`, ``, `{"created_at":"yesterday","api_key":"sk_abc123def456ghi789jkl012mno345pqRST"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		o, key, err := ipc.DecodePutRequest(body)
		if err != nil {
			if strings.Contains(err.Error(), "sk_abc123def456") {
				t.Fatalf("error quotes the key: %v", err)
			}
			return
		}
		if key == "" {
			t.Fatal("accepted a body without a key")
		}
		switch o.Source {
		case credstore.SourceLogin, credstore.SourceConfig, credstore.SourceGit, credstore.SourceRotate:
		default:
			t.Fatalf("accepted source %q", o.Source)
		}
	})
}
