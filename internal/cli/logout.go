package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
)

func newLogoutCmd(f *Factory) *cobra.Command {
	var previous bool
	cmd := &cobra.Command{
		Use:   "logout",
		Short: "Remove the profile's key from the keychain",
		Long: `Removes the profile's key from the keychain and forgets its metadata.
The key stays valid on the server: revoke it in your Torale dashboard (API
Keys) if it should stop working.

With --previous it removes instead the keys that newer ones replaced, which
torale-cred keeps until then (status names them), and leaves the profile's
key alone.`,
		Example: "  torale-cred logout --profile work\n  torale-cred logout --previous",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			profile, err := f.profile()
			if err != nil {
				return err
			}
			if previous {
				st, err := f.Store()
				if err != nil {
					return err
				}
				gone, err := st.ForgetDisplaced(cmd.Context(), profile)
				for _, d := range gone {
					f.say(msgLogoutRemovedPrevious, d.KeyHint, d.By)
				}
				if err != nil {
					return err
				}
				if len(gone) == 0 {
					f.say(msgLogoutNoPrevious, profile)
				}
				return nil
			}
			err = f.Backend().Delete(credstore.WithDoor(cmd.Context(), credstore.DoorLogout), profile)
			if errors.Is(err, storeerr.ErrNotFound) {
				// What the user asked for is already so: say that, not
				// "run: torale-cred login" (exit 3 all the same, as SPEC's
				// "not found").
				fmt.Fprintf(f.IO.ErrOut, msgLogoutNoKey, prog, profile)
				return reported(err)
			}
			if err != nil {
				return err
			}
			f.say(msgLogoutRemoved, profile)
			return nil
		},
	}
	cmd.Flags().BoolVar(&previous, "previous", false, "remove the replaced keys torale-cred keeps for the profile, not its key")
	return cmd
}
