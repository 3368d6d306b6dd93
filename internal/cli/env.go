package cli

import (
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/torale-ai/torale-cred/credstore"
)

// Shells env can write for.
const (
	shellSh         = "sh"
	shellFish       = "fish"
	shellPowerShell = "powershell"
)

func newEnvCmd(f *Factory) *cobra.Command {
	var shell, apiKey string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "env [--shell sh|fish|powershell]",
		Short: "Print export lines for TORALE_API_KEY and TORALE_API_URL",
		Long: `Prints shell commands that set TORALE_API_KEY and TORALE_API_URL to the key
and URL Torale's rule picks, quoted so that eval runs them and nothing else.
The shell is sh (also bash and zsh) unless --shell or $SHELL says fish or
PowerShell. With TORALE_NOAUTH=1 and no key, the lines unset TORALE_API_KEY.

The key ends up in your shell's environment, where every command you run
can read it; 'torale-cred exec' gives it to one command only.`,
		Example: `  eval "$(torale-cred env)"
  torale-cred env --shell fish | source
  torale-cred env --shell powershell | Invoke-Expression`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sh, err := envShell(shell, f.Getenv("SHELL"))
			if err != nil {
				return err
			}
			r, err := f.lookup(cmd.Context(), credstore.DoorEnv, apiKey)
			if err != nil {
				return err
			}
			if asJSON {
				vars := map[string]string{"TORALE_API_URL": r.URL}
				if r.Key != "" {
					vars["TORALE_API_KEY"] = r.Key
				}
				return writeJSON(f.IO.Out, vars)
			}
			if f.IO.StdoutTTY {
				f.say(msgEnvOnTTY, prog, evalHint(sh))
			}
			_, err = fmt.Fprint(f.IO.Out, envLines(sh, r.Key, r.URL))
			return err
		},
	}
	cmd.Flags().StringVar(&shell, "shell", "", "sh, fish or powershell (default from $SHELL, else sh)")
	cmd.Flags().StringVar(&apiKey, "api-key", "", "a key that takes precedence over everything else (as the official CLI's flag)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the variables as a JSON object instead")
	return cmd
}

// envShell picks the shell syntax: --shell, else $SHELL's name, else sh
// (PowerShell on Windows).
func envShell(flag, shellVar string) (string, error) {
	switch strings.ToLower(flag) {
	case "sh", "bash", "zsh", "dash", "ksh":
		return shellSh, nil
	case "fish":
		return shellFish, nil
	case "powershell", "pwsh":
		return shellPowerShell, nil
	case "":
	default:
		return "", usageErrorf(msgEnvBadShell, flag)
	}
	name := shellVar[strings.LastIndexAny(shellVar, `/\`)+1:] // either separator: $SHELL may be a Windows path
	name = strings.TrimSuffix(strings.ToLower(name), ".exe")
	switch {
	case name == "fish":
		return shellFish, nil
	case name == "pwsh" || name == "powershell":
		return shellPowerShell, nil
	case shellVar == "" && runtime.GOOS == "windows":
		return shellPowerShell, nil
	}
	return shellSh, nil
}

// envLines sets TORALE_API_KEY (or unsets it when key is empty) and
// TORALE_API_URL in shell sh's syntax.
func envLines(sh, key, url string) string {
	var b strings.Builder
	set := func(name, value string) {
		switch sh {
		case shellFish:
			fmt.Fprintf(&b, "set -gx %s %s;\n", name, quoteFish(value))
		case shellPowerShell:
			fmt.Fprintf(&b, "$env:%s = %s\n", name, quotePowerShell(value))
		default:
			fmt.Fprintf(&b, "export %s=%s\n", name, quoteSh(value))
		}
	}
	if key != "" {
		set("TORALE_API_KEY", key)
	} else {
		switch sh {
		case shellFish:
			b.WriteString("set -e TORALE_API_KEY;\n")
		case shellPowerShell:
			b.WriteString("Remove-Item Env:TORALE_API_KEY -ErrorAction SilentlyContinue\n")
		default:
			b.WriteString("unset TORALE_API_KEY\n")
		}
	}
	set("TORALE_API_URL", url)
	return b.String()
}

// quoteSh: POSIX single quotes keep every byte literally; a single quote
// itself is closed, escaped and reopened.
func quoteSh(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// quoteFish: in fish's single quotes only \\ and \' are escapes.
func quoteFish(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// quotePowerShell: in PowerShell's single quotes a quote is doubled, and
// PowerShell also takes the typographic quotes U+2018..U+201B as quotes.
func quotePowerShell(s string) string { return "'" + psQuotes().Replace(s) + "'" }

// psQuotes is built on first use, not at init (every command would pay).
var psQuotes = sync.OnceValue(func() *strings.Replacer {
	return strings.NewReplacer("'", "''", "\u2018", "\u2018\u2018", "\u2019", "\u2019\u2019", "\u201a", "\u201a\u201a", "\u201b", "\u201b\u201b")
})
