// Command torale-cred keeps Torale API keys in the OS keychain.
package main

import (
	"os"

	"github.com/torale-ai/torale-cred/internal/cli"
)

func main() { os.Exit(cli.Main()) }
