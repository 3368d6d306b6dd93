package cli

import "github.com/spf13/cobra"

// newDaemonCmd is a placeholder until its issue is built.
func newDaemonCmd(*Factory) *cobra.Command { return notYet("daemon", "Run the service") }
