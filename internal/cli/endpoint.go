package cli

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/internal/paths"
)

// endpointStatus is the local endpoint as status and `endpoint status`
// show it. Never a token: its hint only.
type endpointStatus struct {
	URL   string `json:"url,omitempty"`
	State string `json:"state"` // on | off | not answering | not set up
	// Why is the fix, for every state but "on".
	Why          string               `json:"why,omitempty"`
	ConfigAPIURL string               `json:"config_api_url,omitempty"`
	Tokens       []endpointTokenShown `json:"tokens,omitempty"`
}

type endpointTokenShown struct {
	Profile  string    `json:"profile"`
	Hint     string    `json:"hint"`
	IssuedAt time.Time `json:"issued_at"`
}

// inspectEndpoint reads state.json's endpoint part and tries the port: the
// daemon serves it while it runs with the endpoint on.
func inspectEndpoint(ctx context.Context, f *Factory) endpointStatus {
	dir, err := paths.StateDir(f.Getenv)
	if err != nil {
		return endpointStatus{State: "unknown", Why: err.Error()}
	}
	st, err := credstore.StateFile{Dir: dir}.Load()
	if err != nil {
		return endpointStatus{State: "unknown", Why: err.Error()}
	}
	ep := st.Endpoint
	if ep != nil && ep.Off {
		return endpointStatus{URL: ep.URL(), State: "off", Why: msgEndpointOff}
	}
	if ep == nil || ep.Port == 0 {
		return endpointStatus{State: "not set up", Why: msgEndpointNotSetUp}
	}
	es := endpointStatus{URL: ep.URL(), ConfigAPIURL: ep.ConfigAPIURL}
	for p, t := range ep.Tokens {
		es.Tokens = append(es.Tokens, endpointTokenShown{Profile: p, Hint: t.Hint, IssuedAt: t.IssuedAt})
	}
	sort.Slice(es.Tokens, func(i, j int) bool { return es.Tokens[i].Profile < es.Tokens[j].Profile })
	dctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(dctx, "tcp4", net.JoinHostPort(credstore.EndpointHost, strconv.Itoa(ep.Port)))
	if err != nil {
		es.State, es.Why = "not answering", msgEndpointNotAnswering
		return es
	}
	c.Close()
	es.State = "on"
	return es
}

func (es endpointStatus) line() string {
	switch {
	case es.State == "on":
		return es.URL + " (on)"
	case es.URL != "":
		return es.URL + " (" + es.State + "): " + es.Why
	}
	return es.State + ": " + es.Why
}

func newEndpointCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "endpoint",
		Short: "The local Torale endpoint: the SDK unchanged, the key never in its process",
		Long: `The daemon serves a local Torale API endpoint on 127.0.0.1. When it moves a
key out of ~/.torale/config.json it writes a local token (tcl_...) and the
endpoint's URL in its place, so a bare ToraleClient() keeps working: the
endpoint checks the token and the calling program, applies the profile's
policy, records the use in the audit trail (door "endpoint"), puts the real
key into the request and forwards it to the profile's real API URL.

A local token is worthless off this machine and, on Linux, to other users.
It may not create or revoke keys (that is torale-cred rotate's).
To go back to config.json without a key: torale-cred daemon --no-endpoint.`,
		Args: cobra.NoArgs,
	}
	var asJSON bool
	status := &cobra.Command{
		Use:   "status",
		Short: "Show the endpoint's URL, whether it answers, and each profile's token hint",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			es := inspectEndpoint(cmd.Context(), f)
			if asJSON {
				return writeJSON(f.IO.Out, es)
			}
			w := humanWriter{f.IO.Out}
			fmt.Fprintf(w, "Endpoint:    %s\n", es.line())
			if es.URL != "" {
				own := es.ConfigAPIURL
				if own == "" {
					own = fmt.Sprintf(msgEndpointOwnURLNone, credstore.DefaultAPIURL)
				}
				fmt.Fprintf(w, "config.json's own URL: %s\n", own)
			}
			for _, t := range es.Tokens {
				fmt.Fprintf(w, "Profile %s: token %s, issued %s\n", t.Profile, t.Hint, t.IssuedAt.Format("2006-01-02"))
			}
			return nil
		},
	}
	status.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	reissue := &cobra.Command{
		Use:   "reissue",
		Short: "Replace the profile's local token (the old one stops working at once)",
		Long: `Makes a new local token for the profile; the old one stops working at once.
config.json gets the new token when it holds the profile's old one. Other
copies (a .env file) must be updated by hand.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			profile, err := f.profile()
			if err != nil {
				return err
			}
			st, err := f.Store()
			if err != nil {
				return err
			}
			hint, rewrote, err := st.ReissueLocalToken(cmd.Context(), profile)
			if err != nil {
				return err
			}
			where := msgEndpointTokenNotHeld
			if rewrote {
				where = msgEndpointTokenHeld
			}
			f.say(msgEndpointReissued, hint, profile, where)
			return nil
		},
	}
	cmd.AddCommand(status, reissue)
	return cmd
}
