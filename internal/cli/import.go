package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/torale-ai/torale-cred/credstore"
)

func newImportCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "import",
		Short: "Move a plaintext key from config.json into the keychain now",
		Long: `Moves the api_key the official Torale CLI wrote to ~/.torale/config.json
into the keychain, then rewrites config.json without it, keeping every other
field and its formatting. The daemon does the same as soon as a key appears;
this command is for machines where it does not run.

The key is removed from the file only after the keychain holds it. A file
that cannot be read safely (not valid JSON, a byte-order mark, a malformed
key, too large) is left exactly as it is.

The key goes to the profile config.json belongs to: the one the daemon runs
with ("default" unless 'daemon --profile'). Naming a profile here (--profile
or TORALE_PROFILE) puts this one key there and changes nothing else: the
daemon keeps moving later keys into its own profile.

Exits 0 when the key moved or there was nothing to move, 1 when the key was
left in the file (the message says why), 4 when the keychain is unavailable.`,
		Example: "  torale-cred import\n  torale-cred import --profile work --torale-config ~/work/.torale/config.json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := f.Store()
			if err != nil {
				return err
			}
			migrate := st.MigrateConfig
			if f.profileChosen() {
				p, err := f.profile()
				if err != nil {
					return err
				}
				// This import's profile, not config.json's from now on.
				migrate = func(ctx context.Context) (credstore.MigrationResult, error) { return st.MigrateConfigTo(ctx, p) }
			}
			res, err := migrate(cmd.Context())
			if err != nil {
				return err
			}
			if res.Outcome == credstore.Migrated {
				f.say(msgImportMoved, res.KeyHint, res.Path, res.Profile)
				if res.PreviousKeyHint != "" {
					f.say(msgImportReplaced, res.PreviousKeyHint, credstore.KeptMessage(res.Profile, res.PreviousKeyHint))
				}
				if res.Warning != "" {
					f.warn("%s", res.Warning)
				}
				return nil
			}
			f.say(msgImportNothing, res.Reason)
			return nil
		},
	}
}
