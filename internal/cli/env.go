package cli

import "github.com/spf13/cobra"

// newEnvCmd is a placeholder until its issue is built.
func newEnvCmd(*Factory) *cobra.Command { return notYet("env", "Print export lines") }
