package ipc_test

import (
	"strings"
	"testing"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/ipc"
)

// TestGitRoute: POST /v1/git answers git's "get" with the git helper's own
// rule over the server's Backend, says nothing for another host, and is
// strict JSON like every other route.
func TestGitRoute(t *testing.T) {
	st, _ := newStore(t)
	sock, _ := serve(t, st, ipc.Options{})
	hc := httpClient(sock)
	if _, err := st.Put(t.Context(), "default", testKey, credstore.PutOptions{Source: credstore.SourceLogin}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, body string
		status     int
		output     string
		code       string
	}{
		{"torale host", `{"operation":"get","input":"protocol=https\nhost=api.torale.ai\n\n"}`, 200, "username=default\npassword=" + testKey + "\n", ""},
		{"another host", `{"operation":"get","input":"protocol=https\nhost=example.com\n"}`, 200, "", ""},
		{"another profile named", `{"operation":"get","input":"protocol=https\nhost=api.torale.ai\n","profile":"work"}`, 200, "", ""},
		{"dev mode plain http", `{"operation":"get","input":"protocol=http\nhost=localhost:8000\n","env":{"TORALE_DEV":"1"}}`, 200, "", ""},
		{"malformed input", `{"operation":"get","input":"protocol=https\nhostapi.torale.ai\n"}`, 400, "", ipc.CodeBadRequest},
		{"a repeated host", `{"operation":"get","input":"host=api.torale.ai\nhost=evil.example\n"}`, 400, "", ipc.CodeBadRequest},
		{"store is not served", `{"operation":"store","input":"protocol=https\nhost=api.torale.ai\n"}`, 400, "", ipc.CodeBadRequest},
		{"unknown field", `{"operation":"get","input":"","Input":""}`, 400, "", ipc.CodeBadRequest},
		{"field twice", `{"operation":"get","operation":"get","input":""}`, 400, "", ipc.CodeBadRequest},
		{"bad profile", `{"operation":"get","input":"host=api.torale.ai\n","profile":"../x"}`, 400, "", ipc.CodeBadProfile},
		{"too large", `{"operation":"get","input":"` + strings.Repeat("a", ipc.MaxBodyBytes) + `"}`, 413, "", ipc.CodeTooLarge},
	} {
		r := call(t, hc, "POST", "/v1/git", c.body)
		if r.status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, r.status, strings.ReplaceAll(r.raw, testKey, "KEY"), c.status)
			continue
		}
		if c.status == 200 && r.body["output"] != c.output {
			t.Errorf("%s: output %q, want %q", c.name, r.body["output"], c.output)
		}
		if c.status != 200 && (r.body["error"] != c.code || strings.Contains(r.raw, testKey)) {
			t.Errorf("%s: %s, want error %s", c.name, r.raw, c.code)
		}
	}
	if r := call(t, hc, "GET", "/v1/git", ""); r.status != 405 || r.header.Get("Allow") != "POST" {
		t.Errorf("GET /v1/git: %d, Allow %q", r.status, r.header.Get("Allow"))
	}
}
