package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/torale-ai/torale-cred/credstore"
)

func newListCmd(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List profiles and their metadata (never keys)",
		Long: `Lists every profile with its key's hint (sk_... and the last 5 characters),
where the key came from, when it was stored and when rotation is due. A key
the keychain no longer holds is marked gone; a key the keychain holds for
"default" without metadata here (a new HOME on the same keychain) is listed
as unrecorded.
--json prints the same fields as GET /v1/credentials (README: JSON output).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			infos, err := f.Backend().List(cmd.Context())
			if err != nil {
				return err
			}
			if infos == nil {
				infos = []credstore.ProfileInfo{}
			}
			if f.profileChosen() {
				// --profile (or TORALE_PROFILE) lists that profile alone,
				// as status shows it alone.
				name, err := f.profile()
				if err != nil {
					return err
				}
				var one []credstore.ProfileInfo
				for _, in := range infos {
					if in.Name == name {
						one = append(one, in)
					}
				}
				if one == nil {
					if !asJSON {
						f.say(msgListNoProfile, name, name)
					} else if err := writeJSON(f.IO.Out, []credstore.ProfileInfo{}); err != nil {
						return err
					}
					return reported(&credstore.NoKeyError{Profile: name})
				}
				infos = one
			}
			if asJSON {
				return writeJSON(f.IO.Out, infos)
			}
			if len(infos) == 0 {
				f.say(msgListNoProfiles)
				return nil
			}
			tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PROFILE\tKEY\tSOURCE\tSTORED\tROTATE BY")
			var gone []string
			for _, e := range infos {
				due, stored, key, source := "", e.StoredAt.Format("2006-01-02"), shown(e.KeyHint), shown(e.Source)
				if e.Rotation != nil {
					due = e.Rotation.DueAt.Format("2006-01-02")
				}
				switch {
				case e.Gone:
					key += " (gone)"
					gone = append(gone, e.Name)
				case e.Unrecorded:
					stored, source = "-", "unrecorded"
				}
				if e.Store != nil {
					// Where the key lives, and the store's state when a
					// daemon follows it.
					source = e.Store.Kind
					if e.Store.State != "" && e.Store.State != "ok" {
						source += " (unavailable)"
					}
					if e.StoredAt.IsZero() {
						stored, key = "-", "-"
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", shown(e.Name), key, source, stored, due)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			for _, n := range gone {
				f.say(msgListGone, n, n)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}
