package cli

import "github.com/spf13/cobra"

// newImportCmd is a placeholder until its issue is built.
func newImportCmd(*Factory) *cobra.Command {
	return notYet("import", "Move a plaintext key into the keychain")
}
