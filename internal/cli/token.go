package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newTokenCmd(f *Factory) *cobra.Command {
	var apiKey string
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print the resolved API key",
		Long: `Prints the key Torale's rule picks: --api-key, then TORALE_API_KEY, then the
key stored for the profile. Standard output holds the key and nothing else,
so it can be captured: $(torale-cred token). Exits 3 when there is no key.`,
		Example: `  curl -H "Authorization: Bearer $(torale-cred token)" https://api.torale.ai/auth/me`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			profile, err := f.profile()
			if err != nil {
				return err
			}
			r, _, err := f.Resolve(cmd.Context(), f.request(profile, apiKey, ""))
			if err != nil {
				return resolveErr(profile, err)
			}
			if r.Key == "" { // TORALE_NOAUTH=1 and no key: nothing to print
				return noKeyError(profile)
			}
			if _, err := fmt.Fprintln(f.IO.Out, r.Key); err != nil {
				return err
			}
			f.warnIfRotationDue(r)
			return nil
		},
	}
	cmd.Flags().StringVar(&apiKey, "api-key", "", "a key that takes precedence over everything else (as the official CLI's flag)")
	return cmd
}
