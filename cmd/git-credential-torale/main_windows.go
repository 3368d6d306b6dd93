// Command git-credential-torale is git's credential helper for Torale API
// keys: git config credential.helper torale. Windows has no exec, so it is
// the full helper itself there.
package main

import (
	"os"

	"github.com/torale-ai/torale-cred/internal/cli"
)

func main() { os.Exit(cli.GitCredentialMain()) }
