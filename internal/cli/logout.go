package cli

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/torale-ai/torale-cred/credstore"
)

func newLogoutCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Remove the profile's key from the keychain",
		Long: `Removes the profile's key from the keychain and forgets its metadata.
The key stays valid on the server: revoke it at torale.ai → Settings → API Keys
if it should stop working.`,
		Example: "  torale-cred logout --profile work",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			profile, err := f.profile()
			if err != nil {
				return err
			}
			err = f.storeDelete(cmd.Context(), profile)
			if errors.Is(err, credstore.ErrNotFound) {
				return noKeyError(profile)
			}
			if err != nil {
				return err
			}
			f.printf("Removed the key for profile %q from the keychain.\n", profile)
			return nil
		},
	}
}
