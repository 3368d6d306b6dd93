// Command torale-cred keeps Torale API keys in the OS keychain: every
// command, the daemon and (reached by the name git-credential-torale) git's
// credential helper, in one program.
package main

import (
	"os"

	"github.com/torale-ai/torale-cred/internal/cli"
)

func main() { os.Exit(cli.Main()) }
