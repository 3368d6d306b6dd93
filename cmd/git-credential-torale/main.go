// Command git-credential-torale is git's credential helper for Torale API
// keys (git config credential.helper torale): torale-cred's own code,
// reached by this name.
package main

import (
	"os"

	"github.com/torale-ai/torale-cred/internal/cli"
)

func main() { os.Exit(cli.GitCredentialMain()) }
