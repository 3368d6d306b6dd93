package cli

import "github.com/spf13/cobra"

// newSetupGitCmd is a placeholder until its issue is built.
func newSetupGitCmd(*Factory) *cobra.Command {
	return notYet("setup-git", "Configure git's credential helper")
}
