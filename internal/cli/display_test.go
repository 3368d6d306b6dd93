package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/internal/audit"
	"github.com/torale-ai/torale-cred/internal/peer"
)

// hostile is an executable path as any program may choose it: a carriage
// return, an erase-line and a fake row of the audit table, a bidi override.
const hostile = "/tmp/x\r\x1b[2K2026-01-01 00:00:00  default  sk_...AAAAA  /usr/bin/git\u202e"

// raw reports a character that acts on a terminal instead of showing.
func raw(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x202e
	})
}

func displayEnv(t *testing.T) func(string) string {
	t.Helper()
	home := t.TempDir()
	state := filepath.Join(home, "state")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"HOME":                  home,
		"TORALE_CRED_STATE_DIR": state,
		"TORALE_CONFIG":         filepath.Join(home, ".torale", "config.json"),
		"TORALE_CRED_SOCKET":    filepath.Join(home, "cred.sock"),
		"TORALE_CRED_NO_DAEMON": "1",
	}
	return func(k string) string { return env[k] }
}

// `torale-cred audit`, plain and --summary, and rotate's "who used this
// key" show a hostile caller's names escaped.
func TestAuditShowsNamesEscaped(t *testing.T) {
	getenv := displayEnv(t)
	dir := getenv("TORALE_CRED_STATE_DIR")
	c := &peer.Caller{PID: 4242, Exe: hostile, Comm: "x\x1b]0;t\a", Unit: "run-\x1b[8m.service"}
	e := audit.Event{Time: time.Now(), Profile: "default", KeyHint: "sk_...12345", Door: credstore.DoorSocket, Result: audit.ResultOK, Caller: c}
	if _, err := audit.Append(dir, 0, e); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"audit"}, {"audit", "--summary"}} {
		ios, out, errOut := Test("")
		if code := Run(context.Background(), args, ios, getenv); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		if raw(out.String()) || !strings.Contains(out.String(), `/tmp/x\r\x1b[2K2026-01-01`) || !strings.Contains(out.String(), `run-\x1b[8m.service`) {
			t.Fatalf("%v printed:\n%q", args, out)
		}
	}
	f := NewFactory(&IOStreams{}, getenv)
	lines := strings.Join(f.usedBy("sk_...12345"), "\n")
	if raw(lines) || !strings.Contains(lines, `/tmp/x\r`) {
		t.Fatalf("usedBy = %q", lines)
	}
}

// `policy show` prints the allow list from state.json escaped.
func TestPolicyShowEscapes(t *testing.T) {
	getenv := displayEnv(t)
	st := &credstore.Store{StateFile: credstore.StateFile{Dir: getenv("TORALE_CRED_STATE_DIR")}}
	if err := st.SetPolicy("default", credstore.Policy{Mode: credstore.PolicyAllow, Allow: []string{hostile}}); err != nil {
		t.Fatal(err)
	}
	ios, out, errOut := Test("")
	if code := Run(context.Background(), []string{"policy", "show"}, ios, getenv); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if raw(out.String()) || !strings.Contains(out.String(), `/usr/bin/git\u202e`) {
		t.Fatalf("policy show printed %q", out)
	}
}

// Every sentence on stderr and every status line goes out escaped, line
// breaks kept; text already escaped stays as it was.
func TestHumanLines(t *testing.T) {
	cases := []struct{ in, want string }{
		{"plain sentence", "plain sentence"},
		{"two\nlines", "two\nlines"},
		{"a\rb\x1b[2Jc", `a\rb\x1b[2Jc`},
		{`already \x1b escaped`, `already \x1b escaped`},
		{"bidi \u202eevil\nnext", "bidi \\u202eevil\nnext"},
	}
	for _, tc := range cases {
		if got := humanLines(tc.in); got != tc.want {
			t.Errorf("humanLines(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	ios, _, errOut := Test("")
	printError(ios, "", errors.New("refused "+hostile))
	f := NewFactory(ios, func(string) string { return "" })
	f.say("say %s", hostile)
	f.warn("warn %s", hostile)
	if raw(errOut.String()) || strings.Count(errOut.String(), "\n") != 3 {
		t.Fatalf("stderr = %q", errOut)
	}
}

// status's lines carry names from files and from the server: each escaped.
func TestPrintStatusEscapes(t *testing.T) {
	ios, out, _ := Test("")
	f := NewFactory(ios, func(string) string { return "" })
	rep := statusReport{
		Profiles: []profileStatus{{
			ProfileInfo:  credstore.ProfileInfo{Name: "default"},
			APIKeySource: credstore.FromKeychain, APIURL: "https://api.torale.ai/\u202e", APIURLSource: credstore.FromConfig,
			VerifyError: "the server said: \x1b]8;;https://evil\a click \x1b]8;;\a",
		}},
		Keychain: keychainStatus{State: "unavailable", Reason: "bus said \x1b[31mno"},
		Config:   configStatus{Path: "/home/u/.torale/config\x1b[2K.json", Exists: true},
	}
	printStatus(f, rep, time.Now())
	if raw(out.String()) || !strings.Contains(out.String(), `\x1b]8;;https://evil\a`) {
		t.Fatalf("status printed %q", out)
	}
	var b bytes.Buffer
	if n, err := (humanWriter{&b}).Write([]byte("x\x1by\n")); n != 4 || err != nil || b.String() != "x\\x1by\n" {
		t.Fatalf("humanWriter wrote %q, returned %d, %v", b.String(), n, err)
	}
}
