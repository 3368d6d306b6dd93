package ipc_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/ipc"
)

// keyShaped finds what could be a key, or most of one, in a body.
var keyShaped = regexp.MustCompile(`sk_[A-Za-z0-9_-]{5,}`)

// leaksKey reports a key-shaped string of body that answer repeats beyond
// the 7 characters SPEC lets a message show.
func leaksKey(body, answer string) string {
	for _, k := range keyShaped.FindAllString(body, -1) {
		if strings.Contains(answer, k[:8]) {
			return k
		}
	}
	return ""
}

// strictCase is one request body and what the strict decoder must do.
type strictCase struct {
	name, body string
	ok         bool // 200 (else 400 bad_request, the Backend never asked)
	// check runs on the request the Backend received, for ok cases.
	check func(t *testing.T, req credstore.Request)
}

func wantRequest(want credstore.Request) func(*testing.T, credstore.Request) {
	return func(t *testing.T, got credstore.Request) {
		t.Helper()
		if got != want {
			t.Errorf("the backend got %+v, want %+v", got, want)
		}
	}
}

// TestResolveIsStrictJSON: POST /v1/resolve takes exactly one JSON object
// with SPEC's lower-case names; a field twice (also inside env), a name in
// another case, an unknown field, a wrong type or trailing data is a 400,
// never a silent choice; env variables other than ours are ignored; an
// empty body is {}. No answer repeats a key from the body.
func TestResolveIsStrictJSON(t *testing.T) {
	k, k2 := testKey, testKey2
	cases := []strictCase{
		{"empty body", "", true, wantRequest(credstore.Request{})},
		{"white space", " \r\n\t ", true, wantRequest(credstore.Request{})},
		{"empty object", "{}", true, wantRequest(credstore.Request{})},
		{"null", "null", true, wantRequest(credstore.Request{})},
		{"null field", `{"profile":null,"env":null}`, true, wantRequest(credstore.Request{})},
		{"every field", `{"profile":"p","api_key":"` + k + `","api_url":"https://f","rotate_after_seconds":60,"url_only":true,` +
			`"env":{"TORALE_API_KEY":"` + k2 + `","TORALE_API_URL":"https://e","TORALE_DEV":"1","TORALE_NOAUTH":"0","TORALE_PROFILE":"q",` +
			`"TORALE_CONFIG":"/c/config.json","TORALE_CRED_STATE_DIR":"/s"}}`, true,
			wantRequest(credstore.Request{Profile: "p", FlagKey: k, FlagURL: "https://f", RotateAfterSeconds: 60, URLOnly: true,
				Env: credstore.Env{APIKey: k2, APIURL: "https://e", Dev: "1", NoAuth: "0", Profile: "q"}})},
		// The daemon reads its own files only: a caller's paths are
		// ignored like any other variable (a policy bypass before).
		{"paths in env ignored", `{"env":{"TORALE_CONFIG":"/tmp/x/config.json","TORALE_CRED_STATE_DIR":"/tmp/x"}}`, true, wantRequest(credstore.Request{})},
		{"other env vars ignored", `{"env":{"TORALE_API_KEY":"` + k + `","PATH":"/bin","HOME":1,"X":{"y":[true,null]},"torale_api_key":"` + k2 + `","TORALE_API_KEY_2":7}}`, true,
			wantRequest(credstore.Request{Env: credstore.Env{APIKey: k}})},
		{"other env vars only", `{"env":{"PATH":"/bin","LANG":"C"}}`, true, wantRequest(credstore.Request{})},
		{"env var of ours null", `{"env":{"TORALE_NOAUTH":null}}`, true, wantRequest(credstore.Request{})},
		{"escaped names", `{"\u0070rofile":"work"}`, true, wantRequest(credstore.Request{Profile: "work"})},

		{"duplicate field", `{"profile":"a","profile":"b"}`, false, nil},
		{"duplicate key field", `{"api_key":"` + k + `","api_key":"` + k2 + `"}`, false, nil},
		{"duplicate by escape", `{"profile":"a","\u0070rofile":"b"}`, false, nil},
		{"duplicate env", `{"env":{},"env":{"TORALE_NOAUTH":"1"}}`, false, nil},
		{"duplicate inside env", `{"env":{"TORALE_API_KEY":"a","TORALE_API_KEY":"b"}}`, false, nil},
		{"duplicate key inside env", `{"env":{"TORALE_API_KEY":"` + k + `","TORALE_API_KEY":"` + k2 + `"}}`, false, nil},
		{"duplicate other var inside env", `{"env":{"PATH":"/a","PATH":"/b"}}`, false, nil},
		{"upper case name", `{"PROFILE":"a"}`, false, nil},
		{"mixed case name", `{"Api_Key":"x"}`, false, nil},
		{"mixed case name with a key", `{"Api_Key":"` + k + `"}`, false, nil},
		{"case variant beside the name", `{"Profile":"x","profile":"y"}`, false, nil},
		{"unknown field", `{"apikey":"x"}`, false, nil},
		{"unknown field with a key", `{"token":"` + k + `"}`, false, nil},
		{"a key as a field name", `{"` + k + `":1}`, false, nil},
		{"a key as an escaped field name", `{"\u0073k_abc123def456ghi789jkl012mno345pqRST":1}`, false, nil},
		{"unknown field after good ones", `{"profile":"a","api_key":"` + k + `","extra":true}`, false, nil},
		{"wrong place for env var", `{"TORALE_API_KEY":"` + k + `"}`, false, nil},
		{"non-string env var (number)", `{"env":{"TORALE_NOAUTH":1}}`, false, nil},
		{"non-string env var (bool)", `{"env":{"TORALE_DEV":true}}`, false, nil},
		{"non-string env var (object)", `{"env":{"TORALE_API_KEY":{"v":"` + k + `"}}}`, false, nil},
		{"non-string env var (array)", `{"env":{"TORALE_PROFILE":["a"]}}`, false, nil},
		{"env not an object", `{"env":["TORALE_NOAUTH=1"]}`, false, nil},
		{"env a string", `{"env":"TORALE_NOAUTH=1"}`, false, nil},
		{"profile a number", `{"profile":1}`, false, nil},
		{"key an array", `{"api_key":["` + k + `"]}`, false, nil},
		{"rotate_after a string", `{"rotate_after_seconds":"60"}`, false, nil},
		{"rotate_after a fraction", `{"rotate_after_seconds":1.5}`, false, nil},
		{"url_only a string", `{"url_only":"yes"}`, false, nil},
		{"trailing garbage", `{}x`, false, nil},
		{"trailing object", `{} {}`, false, nil},
		{"trailing brace", `{"profile":"a"}}`, false, nil},
		{"trailing garbage after a key", `{"api_key":"` + k + `"},`, false, nil},
		{"not an object", `["profile"]`, false, nil},
		{"a string", `"` + k + `"`, false, nil},
		{"a number", `1`, false, nil},
		{"cut short", `{"api_key":"` + k, false, nil},
		{"single quotes", `{'profile':'a'}`, false, nil},
		{"comment", `{/* */"profile":"a"}`, false, nil},
		{"invalid UTF-8", "{\"profile\":\"\xff\"}", false, nil},
		{"lone surrogate", `{"profile":"\ud800"}`, false, nil},
		{"NUL", "\x00{}", false, nil},
	}
	runStrict(t, "POST", "/v1/resolve", cases)
}

// TestPutIsStrictJSON: the same rules for PUT /v1/credentials/{profile},
// whose body is {"api_key"} and the key's metadata.
func TestPutIsStrictJSON(t *testing.T) {
	k, k2 := testKey, testKey2
	cases := []strictCase{
		{"key alone", `{"api_key":"` + k + `"}`, true, nil},
		{"key and metadata", `{"api_key":"` + k + `","source":"login","created_at":"2026-01-02T03:04:05Z","key_id":"k1","api_url":"https://x"}`, true, nil},

		{"empty body is {}: no key", "", false, nil},
		{"empty object", "{}", false, nil},
		{"null", "null", false, nil},
		{"empty key", `{"api_key":""}`, false, nil},
		{"duplicate key", `{"api_key":"` + k + `","api_key":"` + k2 + `"}`, false, nil},
		{"duplicate metadata", `{"api_key":"` + k + `","api_url":"https://a","api_url":"https://b"}`, false, nil},
		{"upper case name", `{"API_KEY":"` + k + `"}`, false, nil},
		{"mixed case name", `{"Api_Key":"x"}`, false, nil},
		{"mixed case name with a key", `{"Api_Key":"` + k + `"}`, false, nil},
		{"case variant beside the name", `{"api_key":"` + k + `","Source":"git"}`, false, nil},
		{"unknown field", `{"api_key":"` + k + `","comment":"x"}`, false, nil},
		{"a resolve field", `{"api_key":"` + k + `","profile":"other"}`, false, nil},
		{"env is not a put field", `{"api_key":"` + k + `","env":{}}`, false, nil},
		{"a key as a field name", `{"` + k + `":"` + k2 + `"}`, false, nil},
		{"key a number", `{"api_key":1}`, false, nil},
		{"key an object", `{"api_key":{"v":"` + k + `"}}`, false, nil},
		{"bad created_at", `{"api_key":"` + k + `","created_at":"yesterday"}`, false, nil},
		{"key in created_at", `{"api_key":"` + k + `","created_at":"` + k2 + `"}`, false, nil},
		{"key_id a number", `{"api_key":"` + k + `","key_id":1}`, false, nil},
		{"bad source", `{"api_key":"` + k + `","source":"` + k2 + `"}`, false, nil},
		{"trailing garbage", `{"api_key":"` + k + `"}x`, false, nil},
		{"trailing object", `{"api_key":"` + k + `"}{}`, false, nil},
		{"not an object", `["` + k + `"]`, false, nil},
		{"cut short", `{"api_key":"` + k, false, nil},
		{"invalid UTF-8", "{\"api_key\":\"" + k + "\xfe\"}", false, nil},
	}
	runStrict(t, "PUT", "/v1/credentials/work", cases)
}

func runStrict(t *testing.T, method, path string, cases []strictCase) {
	t.Helper()
	fb := newFake(map[string]string{"default": testKey, "work": testKey})
	sock, _ := serve(t, fb, ipc.Options{})
	hc := httpClient(sock)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := fb.callCount()
			r := call(t, hc, method, path, c.body)
			if k := leaksKey(c.body, r.raw); k != "" && !(c.ok && method == "POST") {
				t.Errorf("the answer repeats %.10s… from the body: %s", k, r.raw)
			}
			if !c.ok {
				if r.status != 400 || r.body["error"] != ipc.CodeBadRequest {
					t.Errorf("%s %q = %d %s, want 400 %s", method, c.body, r.status, r.raw, ipc.CodeBadRequest)
				}
				if msg, _ := r.body["message"].(string); msg == "" || strings.HasPrefix(msg, "json:") || strings.HasPrefix(msg, "bad request") {
					t.Errorf("message %q: want a sentence of the daemon's own", msg)
				}
				// Not even a decoded one (a name written with \u escapes).
				if strings.Contains(r.raw, "sk_") {
					t.Errorf("a refusal names something key-shaped: %s", r.raw)
				}
				if n := fb.callCount() - before; n != 0 {
					t.Errorf("a refused body reached the backend (%d calls)", n)
				}
				t.Logf("%d %s", r.status, strings.TrimSpace(r.raw))
				return
			}
			if r.status != 200 {
				t.Fatalf("%s %q = %d %s, want 200", method, c.body, r.status, r.raw)
			}
			if method == "POST" {
				req, n := fb.lastRequest()
				if n == 0 {
					t.Fatal("the backend was not asked")
				}
				if c.check != nil {
					c.check(t, req)
				}
			} else if p, n := fb.lastPut(); n == 0 || p.Key != testKey || p.Profile != "work" {
				t.Errorf("the backend got %+v", p)
			}
		})
	}
}
