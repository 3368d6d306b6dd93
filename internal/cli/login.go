package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
)

// maxKeyInput bounds what login reads from stdin: a key is under 140 bytes.
const maxKeyInput = 4096

type loginOptions struct {
	verify   bool
	apiURL   string
	previous string // --previous[=HINT]: "latest" without a value
}

func newLoginCmd(f *Factory) *cobra.Command {
	var o loginOptions
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Store an API key in the keychain",
		Long: `Reads a Torale API key and stores it in the OS keychain for the profile.

On a terminal the key is read without echo; otherwise the first line of
standard input is the key. The key is never taken as an argument, so it
never appears in shell history or the process list.

A key that replaces a different one (by login, import or the daemon moving
a plaintext key out of config.json) never destroys it: the replaced key is
kept in the keychain, and 'status' names it. --previous brings back the
most recently replaced key (--previous=sk_...ABCDE another one), keeping the
current one in its place in turn; 'logout --previous' forgets the kept keys.`,
		Example: `  torale-cred login
  pbpaste | torale-cred login --profile work
  torale-cred login --verify
  torale-cred login --previous`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runLogin(cmd, f, o) },
	}
	cmd.Flags().BoolVar(&o.verify, "verify", false, "check the key with GET /auth/me before storing it")
	cmd.Flags().StringVar(&o.previous, "previous", "", "bring back the key a newer one replaced (status names it; =HINT chooses among several), instead of reading one")
	cmd.Flags().Lookup("previous").NoOptDefVal = "latest"
	cmd.Flags().StringVar(&o.apiURL, "api-url", "", "the Torale API URL for this profile (self-hosted servers); used after config.json's api_url and before https://api.torale.ai")
	return cmd
}

func runLogin(cmd *cobra.Command, f *Factory, o loginOptions) error {
	profile, err := f.profile()
	if err != nil {
		return err
	}
	var key string
	opts := credstore.PutOptions{Source: credstore.SourceLogin}
	if o.previous != "" {
		st, err := f.Store()
		if err != nil {
			return err
		}
		hint := o.previous
		if hint == "latest" {
			hint = ""
		}
		var kept credstore.DisplacedKey
		if key, kept, err = st.Previous(cmd.Context(), profile, hint); err != nil {
			return err
		}
		// It comes back as what it was: its age and where it came from.
		opts = credstore.PutOptions{Source: kept.Source, CreatedAt: kept.CreatedAt, KeyID: kept.KeyID}
		if opts.Source == "" {
			opts.Source = credstore.SourceLogin
		}
	} else if key, err = readKey(cmd.Context(), f); err != nil {
		return err
	}
	if o.apiURL != "" {
		if err := credstore.CheckURL(o.apiURL, "--api-url"); err != nil {
			return usageErrorf("%s", err)
		}
		opts.APIURL = &o.apiURL
	}
	be := f.Backend()
	ctx := credstore.WithDoor(cmd.Context(), credstore.DoorLogin)
	// What the profile holds now (its hint: nothing is handed out), to say
	// when login replaces another key.
	before, berr := be.Stored(credstore.WithDoor(ctx, ""), profile)
	if berr != nil && !errors.Is(berr, storeerr.ErrNotFound) {
		return berr
	}
	if o.verify {
		url := o.apiURL
		if url == "" {
			url = before.URL
			if url == "" {
				url = credstore.DefaultAPIURL
			}
		}
		who, err := verifyKey(ctx, url, key) // the user's own key, from their input
		if err != nil {
			return err
		}
		f.say(msgLoginVerified, who)
	}
	if _, err := be.Put(ctx, profile, key, opts); err != nil {
		return err
	}
	switch {
	case before.KeyHint == apikey.Hint(key):
		f.say(msgLoginUnchanged, profile, apikey.Hint(key))
	case before.KeyHint != "":
		// Never "revoke it": the replaced key may be the one in use.
		f.say(msgLoginReplaced, apikey.Hint(key), profile, before.KeyHint, credstore.KeptMessage(profile, before.KeyHint))
	default:
		f.say(msgLoginStored, apikey.Hint(key), profile)
	}
	return nil
}

// readKey reads one key without echo on a terminal, else from stdin.
func readKey(ctx context.Context, f *Factory) (string, error) {
	var raw string
	if f.IO.StdinTTY && f.IO.ReadSecret != nil {
		fmt.Fprint(f.IO.ErrOut, msgLoginPrompt)
		b, err := f.IO.ReadSecret(ctx)
		fmt.Fprintln(f.IO.ErrOut)
		switch {
		case errors.Is(err, errInterrupted), errors.Is(err, errAborted):
			return "", err
		case err != nil:
			return "", fmt.Errorf(msgLoginReadTerminal, err)
		}
		if strings.TrimSpace(string(b)) == "" {
			return "", errAborted
		}
		raw = string(b)
	} else {
		b, err := io.ReadAll(io.LimitReader(f.IO.In, maxKeyInput+1))
		if err != nil {
			return "", fmt.Errorf(msgLoginReadStdin, err)
		}
		if len(b) > maxKeyInput {
			return "", fmt.Errorf(msgLoginInputTooLong, apikey.ErrBadKey)
		}
		raw = strings.TrimRight(string(b), "\r\n")
		if sc := bufio.NewScanner(strings.NewReader(raw)); strings.Count(raw, "\n") > 0 && sc.Scan() {
			return "", fmt.Errorf(msgLoginInputManyLines, apikey.ErrBadKey)
		}
	}
	key, err := apikey.Parse(raw)
	if err != nil {
		return "", err
	}
	return key, nil
}
