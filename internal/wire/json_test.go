package wire

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The hand-written encoders must make the documents encoding/json makes of
// the same values (as values: the spelling of escapes may differ).
func FuzzRequestMarshal(f *testing.F) {
	f.Add("default", "", "", "http://127.0.0.1:9", "/home/a/.torale/config.json", "", int64(0), false)
	f.Add("work", "sk_x", "https://api.torale.ai", "", "", "1", int64(86400), true)
	f.Add("", "", "", "\xff\"\\\n<&>\u2028", "", "", int64(-5), false)
	f.Fuzz(func(t *testing.T, profile, key, url, envURL, config, dev string, rotate int64, urlOnly bool) {
		r := Request{Profile: profile, FlagKey: key, FlagURL: url, RotateAfterSeconds: rotate, URLOnly: urlOnly,
			Env: Env{APIURL: envURL, Config: config, Dev: dev, StateDir: strings.ToUpper(config)}}
		sameDocument(t, r, struct{ Request }{r})
		g := GitRequest{Operation: "get", Input: envURL + "\n" + key, Profile: profile, Env: r.Env}
		sameDocument(t, g, struct{ GitRequest }{g})
	})
}

// sameDocument: mine marshals (through its MarshalJSON) to the value
// encoding/json's reflection makes of plain (the same fields, no method).
func sameDocument(t *testing.T, mine any, plain any) {
	t.Helper()
	got, err := json.Marshal(mine)
	if err != nil {
		t.Fatalf("MarshalJSON: %v", err)
	}
	want, err := reflectMarshal(plain)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("MarshalJSON wrote invalid JSON %q: %v", got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("MarshalJSON:\n%s\nencoding/json:\n%s", got, want)
	}
}

// reflectMarshal is encoding/json on a copy of the struct's fields without
// their MarshalJSON (the embedded wrapper would promote it, so the fields
// are copied into an anonymous struct of the same tags).
func reflectMarshal(v any) ([]byte, error) {
	inner := reflect.ValueOf(v).Field(0)
	fields := make([]reflect.StructField, inner.NumField())
	for i := range fields {
		fields[i] = inner.Type().Field(i)
	}
	out := reflect.New(reflect.StructOf(fields)).Elem()
	for i := range fields {
		out.Field(i).Set(inner.Field(i))
	}
	return json.Marshal(out.Interface())
}

// A front prints a key only when encoding/json, the full CLI's decoder,
// reads the same body as that key with nothing else to say.
func FuzzPlainKey(f *testing.F) {
	for _, s := range []string{
		`{"profile":"default","api_key":"sk_abc","api_key_source":"keychain","api_url":"https://api.torale.ai","api_url_source":"default","noauth":false,"rotation":{"age_days":3,"due_at":"2027-03-01T00:00:00Z","due":false}}`,
		`{"api_key":"sk_abc","rotation":null}`,
		`{"api_key":"sk_abc","rotation":{"due":true}}`,
		`{"api_key":"sk_abc","keychain_problem":"locked"}`,
		`{"api_key":"sk_abc","API_KEY":"sk_other"}`,
		`{"api_key":"sk_abc","api_key":"sk_other"}`,
		`{"api_key":"sk_abc","rotation":{"age_days":1.5}}`,
		`{"api_key":"sk_abc","rotation":{"due_at":"yesterday"}}`,
		`{"api_key":"sk_abc","noauth":"no"}`,
		`{"api_key":"sk_abc"} {}`,
		`{"api_key":"sk_\u0061bc","extra":[1,{"a":null}]}`,
		`null`, `[]`, `{"api_key":null}`, `{"api_key":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		key, ok := PlainKey(body)
		if !ok {
			return
		}
		var r Resolution
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatalf("PlainKey took %q, which encoding/json refuses: %v", body, err)
		}
		if r.Key != key || r.Key == "" || r.KeychainProblem != "" || r.Rotation != nil && r.Rotation.Due {
			t.Fatalf("PlainKey(%q) = %q; encoding/json reads %+v", body, key, r)
		}
	})
}

func FuzzGitOutput(f *testing.F) {
	for _, s := range []string{`{"output":"password=sk_x\n"}`, `{"output":""}`, `{"Output":"x"}`, `{"output":1}`, `{}`, `{"output":"a","other":true}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		out, ok := GitOutput(body)
		if !ok {
			return
		}
		var a GitAnswer
		if err := json.Unmarshal(body, &a); err != nil {
			t.Fatalf("GitOutput took %q, which encoding/json refuses: %v", body, err)
		}
		if a.Output != out {
			t.Fatalf("GitOutput(%q) = %q; encoding/json reads %q", body, out, a.Output)
		}
	})
}

// The answers the daemon really writes are read as plain, so the fast
// path is taken (a decoder that says "not plain" to everything passes the
// fuzz targets above and would send every look-up to the full CLI).
func TestPlainKeyReadsTheDaemonsAnswers(t *testing.T) {
	due := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, r := range []Resolution{
		{Profile: "default", Key: "sk_abc", KeySource: "keychain", URL: "https://api.torale.ai", URLSource: "default"},
		{Profile: "w", Key: "sk_abc", KeySource: "keychain", Rotation: &Rotation{AgeDays: 89, DueAt: due}},
	} {
		b, _ := json.Marshal(r)
		if key, ok := PlainKey(b); !ok || key != r.Key {
			t.Errorf("PlainKey(%s) = %q, %v", b, key, ok)
		}
	}
	for _, r := range []Resolution{
		{Key: "sk_abc", Rotation: &Rotation{AgeDays: 91, DueAt: due, Due: true}},
		{Key: "sk_abc", KeychainProblem: "the keychain is locked"},
		{Profile: "default"},
	} {
		b, _ := json.Marshal(r)
		if key, ok := PlainKey(b); ok {
			t.Errorf("PlainKey(%s) = %q, plain; want it left to the CLI", b, key)
		}
	}
	b, _ := json.Marshal(GitAnswer{Output: "username=default\npassword=sk_abc\n"})
	if out, ok := GitOutput(b); !ok || out != "username=default\npassword=sk_abc\n" {
		t.Errorf("GitOutput(%s) = %q, %v", b, out, ok)
	}
}
