package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/torale-ai/torale-cred/credstore"
)

type listEntry struct {
	Name string `json:"profile"`
	credstore.Profile
}

func newListCmd(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List profiles and their metadata (never keys)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			st, err := f.Store()
			if err != nil {
				return err
			}
			meta, err := st.Metadata()
			if err != nil {
				return err
			}
			entries := []listEntry{}
			for _, n := range meta.Names() {
				entries = append(entries, listEntry{n, *meta.Profiles[n]})
			}
			if asJSON {
				return writeJSON(f.IO.Out, entries)
			}
			if len(entries) == 0 {
				f.printf("No profiles yet; run: torale-cred login\n")
				return nil
			}
			tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PROFILE\tKEY\tSOURCE\tSTORED\tROTATE BY")
			for _, e := range entries {
				rot := credstore.RotationOf(e.Profile, f.rotationPeriod(), f.Now())
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Name, e.KeyHint, e.Source, e.StoredAt.Format("2006-01-02"), rot.DueAt.Format("2006-01-02"))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}
