package cli

import (
	"os/exec"
	"strings"
	"testing"
)

// nastyValues are values whose quoting must survive eval unchanged.
var nastyValues = []string{
	"sk_abc123def456ghi789jkl012mno345pqRST",
	"",
	"it's",
	"'",
	"''''",
	`\`,
	`\'`,
	`a\\'b`,
	`$(touch pwned)`,
	"`touch pwned`",
	"$HOME ${HOME} $0",
	"\"double\"",
	"line one\nline two",
	"tab\there",
	"semi; touch pwned; #",
	"*?[a-z]",
	"~ ~root",
	"!event",
	"{a,b}",
	"\u2018typographic\u2019 \u201aquotes\u201b",
	"ünïcödé €",
	"%PATH% $env:PATH",
	"-n",
	"back\\slash at end\\",
}

// TestEnvQuotingRoundTrip evaluates env's lines in the real shells and reads
// the values back: sh always, fish and pwsh when installed.
func TestEnvQuotingRoundTrip(t *testing.T) {
	shells := []struct {
		name, bin string
		args      func(script string) []string
		print     string // prints both variables, NUL-separated
	}{
		{shellSh, "sh", func(s string) []string { return []string{"-c", s} }, `printf '%s\0%s\0' "$TORALE_API_KEY" "$TORALE_API_URL"`},
		{shellFish, "fish", func(s string) []string { return []string{"--no-config", "-c", s} }, `printf '%s\0%s\0' "$TORALE_API_KEY" "$TORALE_API_URL"`},
		{shellPowerShell, "pwsh", func(s string) []string { return []string{"-NoProfile", "-NonInteractive", "-Command", s} },
			`[Console]::Out.Write($env:TORALE_API_KEY + [char]0 + $env:TORALE_API_URL + [char]0)`},
	}
	for _, sh := range shells {
		t.Run(sh.name, func(t *testing.T) {
			if _, err := exec.LookPath(sh.bin); err != nil {
				t.Skipf("%s is not installed", sh.bin)
			}
			for _, v := range nastyValues {
				if v == "" {
					continue // an empty key means "unset"; tested apart
				}
				if sh.name == shellPowerShell && strings.Contains(v, "\n") {
					continue // PowerShell may write \r\n; the quoting is the same
				}
				script := envLines(sh.name, v, "url:"+v) + sh.print
				out, err := exec.Command(sh.bin, sh.args(script)...).Output()
				if err != nil {
					t.Fatalf("%s failed on %q: %v\nscript:\n%s", sh.bin, v, err, script)
				}
				want := v + "\x00url:" + v + "\x00"
				if string(out) != want {
					t.Fatalf("%s read back %q, want %q\nscript:\n%s", sh.bin, out, want, script)
				}
			}
		})
	}
}

func TestEnvLinesUnsetWithoutKey(t *testing.T) {
	for sh, want := range map[string]string{
		shellSh:         "unset TORALE_API_KEY\nexport TORALE_API_URL='http://localhost:8000'\n",
		shellFish:       "set -e TORALE_API_KEY;\nset -gx TORALE_API_URL 'http://localhost:8000';\n",
		shellPowerShell: "Remove-Item Env:TORALE_API_KEY -ErrorAction SilentlyContinue\n$env:TORALE_API_URL = 'http://localhost:8000'\n",
	} {
		if got := envLines(sh, "", "http://localhost:8000"); got != want {
			t.Errorf("%s: %q, want %q", sh, got, want)
		}
	}
	out, err := exec.Command("sh", "-c", "TORALE_API_KEY=old; export TORALE_API_KEY; "+envLines(shellSh, "", "u")+`echo "${TORALE_API_KEY-unset}"`).Output()
	if err != nil || string(out) != "unset\n" {
		t.Fatalf("sh: %q %v", out, err)
	}
}

func TestEnvShell(t *testing.T) {
	tests := []struct{ flag, shellVar, want string }{
		{"", "/bin/bash", shellSh},
		{"", "/usr/bin/zsh", shellSh},
		{"", "/usr/local/bin/fish", shellFish},
		{"", "/usr/bin/pwsh", shellPowerShell},
		{"", `C:\Program Files\PowerShell\7\pwsh.exe`, shellPowerShell},
		{"sh", "/usr/bin/fish", shellSh},
		{"FISH", "", shellFish},
		{"pwsh", "", shellPowerShell},
	}
	for _, tt := range tests {
		got, err := envShell(tt.flag, tt.shellVar)
		if err != nil || got != tt.want {
			t.Errorf("envShell(%q, %q) = %q, %v; want %q", tt.flag, tt.shellVar, got, err, tt.want)
		}
	}
	if _, err := envShell("csh", ""); err == nil {
		t.Error("csh accepted")
	}
}
