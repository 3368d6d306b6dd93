package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/internal/toraleconfig"
)

// profileStatus is one profile's line of `status`; never a key.
type profileStatus struct {
	Profile       string     `json:"profile"`
	KeyHint       string     `json:"key_hint,omitempty"`
	KeySource     string     `json:"key_source"`
	APIURL        string     `json:"api_url"`
	APIURLSource  string     `json:"api_url_source"`
	StoredSource  string     `json:"stored_source,omitempty"`
	StoredAt      *time.Time `json:"stored_at,omitempty"`
	AgeDays       *int       `json:"age_days,omitempty"`
	RotationDueAt *time.Time `json:"rotation_due_at,omitempty"`
	RotationDue   bool       `json:"rotation_due"`
	User          string     `json:"user,omitempty"`
	VerifyError   string     `json:"verify_error,omitempty"`
	Error         string     `json:"error,omitempty"`
	err           error
}

type configStatus struct {
	Path         string `json:"path"`
	Exists       bool   `json:"exists"`
	PlaintextKey bool   `json:"plaintext_key"`
	KeyHint      string `json:"key_hint,omitempty"`
	Problem      string `json:"problem,omitempty"`
}

type statusReport struct {
	Profiles []profileStatus `json:"profiles"`
	Keychain string          `json:"keychain"`
	Daemon   string          `json:"daemon"`
	Via      string          `json:"via"`
	Config   configStatus    `json:"config"`
}

func newStatusCmd(f *Factory) *cobra.Command {
	var asJSON, verify bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each profile's key, age, rotation date, and the keychain and daemon state",
		Long: `Shows, for the profile (or every known profile), where its key comes from,
the key as sk_... and its last 5 characters, its age and rotation due date; then
whether the keychain and the daemon answer and whether ~/.torale/config.json
still holds a plaintext key. Never prints a key.

Exits 0 when the profile has a key, 3 when it has none, 4 when the keychain
cannot be read.`,
		Example: "  torale-cred status\n  torale-cred status --json --verify",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatus(cmd.Context(), cmd.Flags().Changed("profile") || f.Getenv("TORALE_PROFILE") != "", f, asJSON, verify)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	cmd.Flags().BoolVar(&verify, "verify", false, "ask the Torale API (GET /auth/me) whether each key works")
	return cmd
}

func runStatus(ctx context.Context, onlySelected bool, f *Factory, asJSON, verify bool) error {
	selected, err := f.profile()
	if err != nil {
		return err
	}
	st, err := f.Store()
	if err != nil {
		return err
	}
	rep := statusReport{Keychain: "ok", Daemon: f.daemonState(ctx)}
	if err := st.Keychain.Ping(ctx); err != nil {
		rep.Keychain = "unavailable: " + err.Error()
	}
	rep.Config = inspectConfig(st.ConfigPath)
	meta, err := st.Metadata()
	if err != nil {
		return err
	}
	names := []string{selected}
	if !onlySelected {
		for _, n := range meta.Names() {
			if n != selected {
				names = append(names, n)
			}
		}
	}
	now := f.Now().UTC()
	var selErr error
	for _, name := range names {
		ps := profileStatus{Profile: name}
		r, via, err := f.Resolve(ctx, f.request(name, "", ""))
		rep.Via = via
		ps.APIURL, ps.APIURLSource, ps.KeySource = r.URL, r.URLSource, r.KeySource
		if r.Key != "" {
			ps.KeyHint = credstore.Hint(r.Key)
		}
		if err != nil {
			ps.err = resolveErr(name, err)
			ps.Error = ps.err.Error()
		}
		if p := meta.Profiles[name]; p != nil {
			rot := credstore.RotationOf(*p, f.rotationPeriod(), now)
			stored := p.StoredAt
			ps.StoredSource, ps.StoredAt = p.Source, &stored
			ps.AgeDays, ps.RotationDueAt, ps.RotationDue = &rot.AgeDays, &rot.DueAt, rot.Due
			if ps.KeyHint == "" {
				ps.KeyHint = p.KeyHint
			}
		}
		if verify && r.Key != "" {
			who, verr := verifyKey(ctx, f, r.URL, r.Key)
			ps.User = who
			if verr != nil {
				ps.VerifyError = verr.Error()
			}
		}
		if name == selected {
			selErr = ps.err
		}
		rep.Profiles = append(rep.Profiles, ps)
	}
	if asJSON {
		if err := writeJSON(f.IO.Out, rep); err != nil {
			return err
		}
	} else {
		printStatus(f, rep, now)
	}
	if selErr != nil {
		return &quietError{selErr}
	}
	return nil
}

// quietError sets the exit code for an error the command already reported.
type quietError struct{ error }

func (q *quietError) Unwrap() error { return q.error }

func inspectConfig(path string) configStatus {
	cs := configStatus{Path: path}
	c, _, err := toraleconfig.Read(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return cs
	case err != nil:
		cs.Exists = true
		if errors.Is(err, fs.ErrPermission) {
			cs.Problem = "cannot be read (permission denied); a plaintext key in it cannot be moved"
		} else {
			cs.Problem = err.Error() + "; a plaintext key in it cannot be moved until it is fixed"
		}
		if _, serr := os.Stat(path); serr == nil {
			cs.PlaintextKey = false
		}
		return cs
	}
	cs.Exists = true
	cs.PlaintextKey = c.APIKey != ""
	if cs.PlaintextKey {
		cs.KeyHint = credstore.Hint(c.APIKey)
		if _, perr := credstore.ParseKey(c.APIKey); perr != nil {
			cs.Problem = "its api_key is not a well-formed Torale key, so it is left in place"
		}
	}
	return cs
}

func printStatus(f *Factory, rep statusReport, now time.Time) {
	w := f.IO.Out
	for _, p := range rep.Profiles {
		fmt.Fprintf(w, "Profile %s\n", p.Profile)
		switch {
		case p.KeyHint != "" && p.KeySource != credstore.FromNone:
			fmt.Fprintf(w, "  key:       %s (from %s)\n", p.KeyHint, describeSource(p.KeySource))
		case p.Error != "":
			fmt.Fprintf(w, "  key:       none: %s\n", p.Error)
		default:
			fmt.Fprintf(w, "  key:       none\n")
		}
		if p.StoredAt != nil {
			fmt.Fprintf(w, "  stored:    %s by %s, %d days ago\n", p.StoredAt.Format("2006-01-02"), p.StoredSource, *p.AgeDays)
			days := int(p.RotationDueAt.Sub(now).Hours() / 24)
			if p.RotationDue {
				fmt.Fprintf(w, "  rotate:    due since %s; run: torale-cred rotate --profile %s\n", p.RotationDueAt.Format("2006-01-02"), p.Profile)
			} else {
				fmt.Fprintf(w, "  rotate:    by %s (in %d days)\n", p.RotationDueAt.Format("2006-01-02"), days)
			}
		}
		fmt.Fprintf(w, "  api url:   %s (%s)\n", p.APIURL, p.APIURLSource)
		if p.User != "" {
			fmt.Fprintf(w, "  verified:  ✓ Authenticated as %s\n", p.User)
		} else if p.VerifyError != "" {
			fmt.Fprintf(w, "  verified:  ✗ %s\n", p.VerifyError)
		}
	}
	fmt.Fprintf(w, "Keychain:    %s\n", rep.Keychain)
	fmt.Fprintf(w, "Daemon:      %s\n", rep.Daemon)
	switch {
	case rep.Config.Problem != "":
		fmt.Fprintf(w, "config.json: %s %s\n", rep.Config.Path, rep.Config.Problem)
	case rep.Config.PlaintextKey:
		fmt.Fprintf(w, "config.json: %s still holds plaintext key %s; run: torale-cred import\n", rep.Config.Path, rep.Config.KeyHint)
	case rep.Config.Exists:
		fmt.Fprintf(w, "config.json: %s holds no plaintext key\n", rep.Config.Path)
	default:
		fmt.Fprintf(w, "config.json: %s does not exist\n", rep.Config.Path)
	}
}

func describeSource(s string) string {
	switch s {
	case credstore.FromFlag:
		return "--api-key"
	case credstore.FromEnv:
		return "TORALE_API_KEY"
	case credstore.FromKeychain:
		return "the keychain"
	case credstore.FromConfig:
		return "plaintext config.json"
	}
	return s
}
