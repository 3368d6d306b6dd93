package cli

import (
	"os"

	"github.com/spf13/cobra"
)

// RootCommand is torale-cred's real command tree, for tools that document
// it (internal/tools/genman writes the man pages from it). It runs nothing.
func RootCommand() *cobra.Command { return newRootCmd(NewFactory(System(), os.Getenv)) }
