//go:build !windows

// Command torale-cred keeps Torale API keys in the OS keychain. This is its
// lean front (internal/front): `token` answered by the daemon, everything
// else by the full CLI, torale-cred-cli, which it execs.
package main

import (
	"os"

	"github.com/torale-ai/torale-cred/internal/front"
)

func main() { os.Exit(front.Token()) }
