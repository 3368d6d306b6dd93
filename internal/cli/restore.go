package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/torale-ai/torale-cred/credstore"
)

func newRestoreCmd(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "restore",
		Short: "Put the profile's real key back into config.json (to uninstall)",
		Long: `Writes the profile's stored key back into ~/.torale/config.json as api_key,
and api_url back to the URL the local endpoint stood for, every other field
kept: the official SDK then reads the key from the file, as before
torale-cred. It is for uninstalling: the key is plaintext again, readable by
any program of yours and by backups.

The key leaves through the same hand-out point as every other (door
"restore"): the profile's policy applies and the audit trail records it. The
keychain keeps its copy; 'torale-cred logout' removes it. The daemon would
move the key out again at once, so stop it first (torale-cred service stop).

A config.json that holds another real key is left as it is.`,
		Example: "  torale-cred service stop && torale-cred restore && torale-cred service uninstall",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			profile, err := f.profile()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if d := f.daemon(ctx); d.Running && d.Watching {
				return errors.New(msgRestoreDaemonRunning)
			}
			st, err := f.Store()
			if err != nil {
				return err
			}
			r, err := f.Backend().Stored(credstore.WithDoor(ctx, credstore.DoorRestore), profile)
			if err != nil {
				return err
			}
			res, err := st.RestoreConfig(r)
			r.Key = ""
			if err != nil {
				return err
			}
			if asJSON {
				if err := writeJSON(f.IO.Out, res); err != nil {
					return err
				}
			}
			if res.Already {
				f.say(msgRestoreAlready, res.Path, res.KeyHint, profile)
				return nil
			}
			f.warn(msgRestorePlaintext, res.Path, res.KeyHint, profile)
			where := msgRestoreNoURL
			if res.APIURL != "" {
				where = fmt.Sprintf(msgRestoreURL, res.APIURL)
			}
			f.say(msgRestored, res.KeyHint, res.Path, where)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print what was written as JSON (never the key)")
	return cmd
}
