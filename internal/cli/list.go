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
where the key came from, when it was stored and when rotation is due.
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
			if asJSON {
				return writeJSON(f.IO.Out, infos)
			}
			if len(infos) == 0 {
				f.say("No profiles yet; run: torale-cred login")
				return nil
			}
			tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PROFILE\tKEY\tSOURCE\tSTORED\tROTATE BY")
			for _, e := range infos {
				due := ""
				if e.Rotation != nil {
					due = e.Rotation.DueAt.Format("2006-01-02")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", shown(e.Name), shown(e.KeyHint), shown(e.Source), e.StoredAt.Format("2006-01-02"), due)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}
