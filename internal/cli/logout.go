package cli

import (
	"github.com/spf13/cobra"
	"github.com/torale-ai/torale-cred/credstore"
)

func newLogoutCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Remove the profile's key from the keychain",
		Long: `Removes the profile's key from the keychain and forgets its metadata.
The key stays valid on the server: revoke it in your Torale dashboard (API
Keys) if it should stop working.`,
		Example: "  torale-cred logout --profile work",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			profile, err := f.profile()
			if err != nil {
				return err
			}
			if err := f.Backend().Delete(credstore.WithDoor(cmd.Context(), credstore.DoorLogout), profile); err != nil {
				return err
			}
			f.say("Removed the key for profile %q from the keychain.", profile)
			return nil
		},
	}
}
