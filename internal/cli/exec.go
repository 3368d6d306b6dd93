package cli

import "github.com/spf13/cobra"

// newExecCmd is a placeholder until its issue is built.
func newExecCmd(*Factory) *cobra.Command {
	return notYet("exec", "Run a command with TORALE_API_KEY set")
}
