package cli

import "github.com/spf13/cobra"

// newServiceCmd is a placeholder until its issue is built.
func newServiceCmd(*Factory) *cobra.Command { return notYet("service", "Manage the user service") }
