package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/internal/toraleconfig"
	"github.com/torale-ai/torale-cred/internal/trust"
	"github.com/torale-ai/torale-cred/ipc"
)

// profileStatus is one profile in `status`: its metadata under the same
// names as `list --json` and GET /v1/credentials, and the look-up's answer
// under the names of /v1/resolve. Never a key.
type profileStatus struct {
	credstore.ProfileInfo
	APIKeySource string `json:"api_key_source"`
	APIURL       string `json:"api_url,omitempty"` // the resolved URL (shadows the profile's own api_url tier)
	APIURLSource string `json:"api_url_source,omitempty"`
	// Gone: the metadata names a key the keychain no longer holds.
	Gone        bool   `json:"gone,omitempty"`
	User        string `json:"user,omitempty"`
	VerifyError string `json:"verify_error,omitempty"`
	Warning     string `json:"warning,omitempty"`
	Error       string `json:"error,omitempty"`
	err         error
}

// keychainStatus is the keychain's state: "ok" or "unavailable", and why.
type keychainStatus struct {
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
}

type configStatus struct {
	Path         string `json:"path"`
	Exists       bool   `json:"exists"`
	PlaintextKey bool   `json:"plaintext_key"`
	// LocalToken: config.json holds the local endpoint's token in the
	// key's place (no key).
	LocalToken bool   `json:"local_token,omitempty"`
	KeyHint    string `json:"key_hint,omitempty"`
	Problem    string `json:"problem,omitempty"`
}

type statusReport struct {
	Profiles []profileStatus `json:"profiles"`
	Keychain keychainStatus  `json:"keychain"`
	Daemon   daemonInfo      `json:"daemon"`
	Via      string          `json:"via"`
	Config   configStatus    `json:"config"`
	Endpoint endpointStatus  `json:"endpoint"`
	// Sessions are the live remote sessions (torale-cred ssh), when the
	// daemon runs: never a token.
	Sessions []ipc.Session `json:"sessions,omitempty"`
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
cannot be read; with --verify, 1 when the server refuses the key or cannot
be reached.`,
		Example: "  torale-cred status\n  torale-cred status --json --verify",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatus(cmd.Context(), f, asJSON, verify)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON (README: JSON output)")
	cmd.Flags().BoolVar(&verify, "verify", false, "ask the Torale API (GET /auth/me) whether each key works")
	return cmd
}

func runStatus(ctx context.Context, f *Factory, asJSON, verify bool) error {
	selected, err := f.profile()
	if err != nil {
		return err
	}
	cfgPath, err := f.configPath()
	if err != nil {
		return err
	}
	be := f.Backend()
	rep := statusReport{Daemon: f.daemon(ctx), Config: inspectConfig(cfgPath), Keychain: keychainStatus{State: "ok"}, Endpoint: inspectEndpoint(ctx, f)}
	if rep.Daemon.Running {
		if c, err := f.sessionClient(); err == nil {
			rep.Sessions, _ = c.Sessions(ctx)
			c.Close()
		}
	}
	// One keychain check bounds the whole command: a hung keychain costs one
	// timeout, not one per profile.
	kerr := be.Health(ctx)
	if kerr != nil {
		rep.Keychain = keychainStatus{State: "unavailable", Reason: keychainReason(kerr)}
	}
	rep.Via = be.Via()
	infos, err := be.List(ctx)
	if err != nil {
		return err
	}
	byName := map[string]credstore.ProfileInfo{}
	names := []string{selected}
	for _, in := range infos {
		byName[in.Name] = in
		if !f.profileChosen() && in.Name != selected {
			names = append(names, in.Name)
		}
	}
	envKey := f.Getenv("TORALE_API_KEY")
	var selErr error
	for _, name := range names {
		ps := profileStatus{ProfileInfo: byName[name]}
		ps.Name = name
		if envKey != "" && !apikey.Valid(envKey) {
			ps.Warning = msgStatusEnvKeyMalformed
		}
		// status learns the key's hint only; --verify takes the key itself
		// below, through the hand-out point, judged and recorded.
		r, err := be.Resolve(ctx, f.request(name, "", ""))
		if errors.Is(err, storeerr.ErrNotFound) && r.URL == "" {
			// The daemon's 404 names no URL: ask for the URL alone.
			req := f.request(name, "", "")
			req.URLOnly = true
			u, _ := be.Resolve(ctx, req)
			r.URL, r.URLSource, r.KeySource = u.URL, u.URLSource, credstore.FromNone
		}
		ps.APIKeySource, ps.APIURL, ps.APIURLSource = r.KeySource, r.URL, r.URLSource
		if errors.Is(err, storeerr.ErrKeychain) {
			ps.APIKeySource = "unknown" // said once, on the Keychain line
		}
		if r.KeyHint != "" {
			ps.KeyHint = r.KeyHint
		}
		ps.err = err
		if !ps.StoredAt.IsZero() && r.KeySource != credstore.FromKeychain && kerr == nil {
			if _, serr := be.Stored(ctx, name); errors.Is(serr, storeerr.ErrNotFound) {
				ps.Gone = true
			}
		}
		if verify && err == nil && r.KeyHint != "" {
			var who string
			vr, verr := be.Resolve(credstore.WithDoor(ctx, credstore.DoorVerify), f.request(name, "", ""))
			if verr == nil {
				who, verr = verifyKey(ctx, vr.URL, vr.Key)
			}
			ps.User = who
			if verr != nil {
				ps.VerifyError = verr.Error()
				if ps.err == nil {
					ps.err = verr
				}
			}
		}
		if ps.err != nil && (!errors.Is(ps.err, storeerr.ErrKeychain) || ps.Store != nil) {
			ps.Error = ps.err.Error()
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
		printStatus(f, rep, f.Now().UTC())
	}
	return reported(selErr)
}

// keychainReason is a keychain failure without its "the keychain is …"
// lead, since the line already names the keychain.
func keychainReason(err error) string {
	var ke *keychain.Error
	if errors.As(err, &ke) {
		return ke.Detail()
	}
	return err.Error()
}

// inspectConfig reports config.json through its one reader, Load.
func inspectConfig(path string) configStatus {
	cs := configStatus{Path: path}
	snap, err := toraleconfig.Load(path)
	cs.Exists = snap.Exists
	switch {
	case errors.Is(err, trust.ErrUntrusted):
		cs.Exists = true
		cs.Problem = err.Error()
		return cs
	case err != nil:
		cs.Exists = true
		cs.Problem = fmt.Sprintf(msgStatusConfigUnreadable, err)
		return cs
	}
	cs.LocalToken = credstore.IsLocalToken(snap.Config.APIKey)
	cs.PlaintextKey = snap.Config.APIKey != "" && !cs.LocalToken
	if cs.PlaintextKey {
		cs.KeyHint = apikey.Hint(snap.Config.APIKey)
		if !apikey.Valid(snap.Config.APIKey) {
			cs.Problem = msgStatusConfigBadKey
		}
	}
	return cs
}

func printStatus(f *Factory, rep statusReport, now time.Time) {
	// Names from files, the keychain's bus and the server (a URL, a user,
	// an error's detail) are escaped on the way out.
	w := humanWriter{f.IO.Out}
	for _, p := range rep.Profiles {
		fmt.Fprintf(w, "Profile %s\n", p.Name)
		switch {
		case p.APIKeySource == "unknown" && p.Store != nil:
			fmt.Fprintf(w, "  key:       "+msgStatusStoreUnreadable+"\n", p.Store.Kind, p.Error)
		case p.APIKeySource == "unknown":
			fmt.Fprintf(w, "  key:       "+msgStatusKeychainUnread+"\n")
		case p.KeyHint != "" && p.APIKeySource == credstore.FromKeychain && p.Store != nil:
			fmt.Fprintf(w, "  key:       "+msgStatusFromStore+"\n", p.KeyHint, p.Store.Kind)
		case p.KeyHint != "" && p.APIKeySource != credstore.FromNone && p.APIKeySource != "":
			fmt.Fprintf(w, "  key:       "+msgStatusFrom+"\n", p.KeyHint, describeSource(p.APIKeySource))
		case p.Gone || (p.Error != "" && !p.StoredAt.IsZero()):
			fmt.Fprintf(w, "  key:       "+msgStatusKeyGone+"\n", p.ProfileInfo.KeyHint, p.Name)
		case p.Error != "":
			fmt.Fprintf(w, "  key:       none: %s\n", p.Error)
		default:
			fmt.Fprintf(w, "  key:       none\n")
		}
		if p.Store != nil {
			line := p.Store.Where
			if p.Store.Login != "" {
				line += fmt.Sprintf(msgStoreLogin, p.Store.Login)
			}
			switch {
			case p.Store.State != "" && p.Store.State != "ok":
				line += ": " + p.Store.State
			case p.Store.Version > 0:
				line += fmt.Sprintf(msgStatusServingVersion, p.Store.Version)
			}
			fmt.Fprintf(w, "  store:     %s\n", line)
		}
		if p.Warning != "" {
			fmt.Fprintf(w, "  warning:   %s\n", p.Warning)
		}
		if !p.StoredAt.IsZero() && !p.Gone && p.Rotation != nil && p.APIKeySource != credstore.FromNone {
			fmt.Fprintf(w, "  stored:    "+msgStatusStored+"\n", p.StoredAt.Format("2006-01-02"), p.Source, p.Rotation.AgeDays)
			days := int(p.Rotation.DueAt.Sub(now).Hours() / 24)
			if p.Rotation.Due {
				fmt.Fprintf(w, "  rotate:    "+msgStatusRotationDue+"\n", p.Rotation.DueAt.Format("2006-01-02"), p.Name)
			} else {
				fmt.Fprintf(w, "  rotate:    "+msgStatusRotateBy+"\n", p.Rotation.DueAt.Format("2006-01-02"), days)
			}
		}
		if p.APIURL != "" {
			fmt.Fprintf(w, "  api url:   %s (%s)\n", p.APIURL, p.APIURLSource)
		}
		if p.Policy != nil {
			fmt.Fprintf(w, "  policy:    %s\n", strings.TrimSpace(p.Policy.Mode+" "+strings.Join(p.Policy.Allow, " ")))
		}
		for i, d := range p.Displaced {
			hint := d.KeyHint // the newest needs no hint to be brought back
			if i == len(p.Displaced)-1 {
				hint = ""
			}
			fmt.Fprintf(w, "  kept:      "+msgStatusKept+"\n", d.KeyHint, d.DisplacedAt.Format("2006-01-02"), d.By, describeVia(d.Via), credstore.RestoreCommand(p.Name, hint))
		}
		if p.User != "" {
			fmt.Fprintf(w, "  verified:  "+msgStatusVerified+"\n", p.User)
		} else if p.VerifyError != "" {
			fmt.Fprintf(w, "  verified:  ✗ %s\n", p.VerifyError)
		}
	}
	if rep.Keychain.Reason != "" {
		fmt.Fprintf(w, "Keychain:    %s: %s\n", rep.Keychain.State, rep.Keychain.Reason)
	} else {
		fmt.Fprintf(w, "Keychain:    %s\n", rep.Keychain.State)
	}
	fmt.Fprintf(w, "Daemon:      %s\n", rep.Daemon.State)
	fmt.Fprintf(w, "Endpoint:    %s\n", rep.Endpoint.line())
	for _, ss := range rep.Sessions {
		state := "ssh running"
		if !ss.Running {
			state = "ssh starting"
		}
		fmt.Fprintf(w, "Remote:      "+msgStatusSession+"\n", ss.ID, shown(ss.Destination), shownList(ss.Profiles, ", "), ss.RemotePort, ss.PID, state, ss.ExpiresAt.Local().Format(time.DateTime), ss.ID)
	}
	switch {
	case rep.Config.Problem != "":
		fmt.Fprintf(w, "config.json: %s\n", configProblem(rep.Config))
	case rep.Config.LocalToken:
		fmt.Fprintf(w, "config.json: "+msgStatusLocalToken+"\n", rep.Config.Path)
	case rep.Config.PlaintextKey:
		fmt.Fprintf(w, "config.json: "+msgStatusPlaintextKey+"\n", rep.Config.Path, rep.Config.KeyHint)
	case rep.Config.Exists:
		fmt.Fprintf(w, "config.json: "+msgHoldsNoPlaintextKey+"\n", rep.Config.Path)
	default:
		fmt.Fprintf(w, "config.json: "+msgDoesNotExist+"\n", rep.Config.Path)
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

// configProblem is config.json's problem naming its path once: the
// reader's errors already name the file (trust, not a regular file) or
// call it "config.json".
func configProblem(c configStatus) string {
	switch p := c.Problem; {
	case strings.HasPrefix(p, "config.json "):
		return c.Path + " " + strings.TrimPrefix(p, "config.json ")
	case strings.Contains(p, c.Path):
		return p
	default:
		return c.Path + ": " + p
	}
}
