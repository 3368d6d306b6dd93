package cli

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// git shows a helper's stderr on the user's terminal: a sentence naming a
// program or a file's value goes out escaped, and stays one line.
func TestGitErrorEscapes(t *testing.T) {
	ios, _, errOut := Test("")
	printGitError(ios, errors.New("denied /tmp/x\r\x1b[2Kfake\nline\u202e"), false)
	out := errOut.String()
	if strings.ContainsAny(out, "\r\x1b\a\u202e") || strings.Count(out, "\n") != 1 || !strings.Contains(out, `/tmp/x\r\x1b[2Kfake\nline\u202e`) {
		t.Fatalf("stderr = %q", out)
	}
}

// git-credential-torale's exit codes come from torale-cred's table: a bad
// TORALE_CRED_ROTATE_AFTER is a usage error (2) for it as for token, said
// without the internal "usage: " marker.
func TestGitHelperExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		env    map[string]string
		code   int
		stderr string
	}{
		{"unknown option", []string{"--bogus"}, nil, ExitUsage, "git-credential-torale: unknown option \"--bogus\"\nusage: git-credential-torale"},
		{"no operation", nil, nil, ExitUsage, "git-credential-torale: no operation given\nusage:"},
		{"bad --profile", []string{"--profile", "a b", "get"}, nil, ExitUsage, "git-credential-torale: invalid profile name"},
		{"bad TORALE_PROFILE", []string{"get"}, map[string]string{"TORALE_PROFILE": "a b"}, ExitUsage, "git-credential-torale: invalid profile name"},
		{"bad rotation period", []string{"get"}, map[string]string{"TORALE_CRED_ROTATE_AFTER": "bogus"}, ExitUsage, "git-credential-torale: TORALE_CRED_ROTATE_AFTER: \"bogus\" is not a rotation period"},
		{"malformed request", []string{"get"}, nil, ExitFailure, "git-credential-torale: malformed credential request"},
		{"unknown operation", []string{"frobnicate"}, nil, ExitOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := displayEnv(t)
			env := func(k string) string {
				if v, ok := tc.env[k]; ok {
					return v
				}
				return getenv(k)
			}
			in := "protocol=https\nhost=api.torale.ai\n\n"
			if tc.name == "malformed request" {
				in = "not a request\n"
			}
			ios, _, errOut := Test(in)
			if code := runGitHelper(context.Background(), tc.args, ios, env); code != tc.code || !strings.HasPrefix(errOut.String(), tc.stderr) {
				t.Fatalf("exit %d, stderr %q; want %d, %q…", code, errOut, tc.code, tc.stderr)
			}
		})
	}
}
