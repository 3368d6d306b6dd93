//go:build !windows

// Command git-credential-torale is git's credential helper for Torale API
// keys: git config credential.helper torale. This is its lean front
// (internal/front): `get` answered by the daemon, everything else by the
// full helper in torale-cred-cli, which it execs.
package main

import (
	"os"

	"github.com/torale-ai/torale-cred/internal/front"
)

func main() { os.Exit(front.Git()) }
