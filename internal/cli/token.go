package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/torale-ai/torale-cred/credstore"
)

func newTokenCmd(f *Factory) *cobra.Command {
	var apiKey string
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print the resolved API key",
		Long: `Prints the key Torale's rule picks: --api-key, then TORALE_API_KEY, then the
key stored for the profile. Standard output holds the key and nothing else,
so it can be captured: $(torale-cred token). Exits 3 when there is no key.`,
		Example: `  printf 'Authorization: Bearer %s\n' "$(torale-cred token)" | curl -H @- https://api.torale.ai/auth/me

(printf is the shell's built-in and curl reads the header from standard
input, so the key never appears in a command line, which every user can
read in /proc/*/cmdline.)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := f.lookup(cmd.Context(), credstore.DoorToken, apiKey)
			if err != nil {
				return err
			}
			if r.Key == "" { // TORALE_NOAUTH=1 and no key: nothing to print
				return &credstore.NoKeyError{Profile: r.Profile}
			}
			_, err = fmt.Fprintln(f.IO.Out, r.Key)
			return err
		},
	}
	cmd.Flags().StringVar(&apiKey, "api-key", "", "a key that takes precedence over everything else (as the official CLI's flag)")
	return cmd
}
