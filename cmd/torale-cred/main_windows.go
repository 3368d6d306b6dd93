// Command torale-cred keeps Torale API keys in the OS keychain. Windows has
// no exec to hand a command on with, so it is the full CLI itself there.
package main

import (
	"os"

	"github.com/torale-ai/torale-cred/internal/cli"
)

func main() { os.Exit(cli.Main()) }
