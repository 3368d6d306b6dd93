package cli

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/torale-ai/torale-cred/credstore"
)

// maxKeyInput bounds what login reads from stdin: a key is under 140 bytes.
const maxKeyInput = 4096

type loginOptions struct {
	verify bool
	apiURL string
}

func newLoginCmd(f *Factory) *cobra.Command {
	var o loginOptions
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Store an API key in the keychain",
		Long: `Reads a Torale API key and stores it in the OS keychain for the profile.

On a terminal the key is read without echo; otherwise the first line of
standard input is the key. The key is never taken as an argument, so it
never appears in shell history or the process list.`,
		Example: `  torale-cred login
  pbpaste | torale-cred login --profile work
  torale-cred login --verify`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runLogin(cmd, f, o) },
	}
	cmd.Flags().BoolVar(&o.verify, "verify", false, "check the key with GET /auth/me before storing it")
	cmd.Flags().StringVar(&o.apiURL, "api-url", "", "remember this Torale API URL for the profile (self-hosted servers)")
	return cmd
}

func runLogin(cmd *cobra.Command, f *Factory, o loginOptions) error {
	profile, err := f.profile()
	if err != nil {
		return err
	}
	key, err := readKey(f)
	if err != nil {
		return err
	}
	st, err := f.Store()
	if err != nil {
		return err
	}
	opts := credstore.PutOptions{Source: credstore.SourceLogin}
	if o.apiURL != "" {
		opts.APIURL = &o.apiURL
	}
	if o.verify {
		url := o.apiURL
		if url == "" {
			url, _ = credstore.ResolveURL(f.request(profile, "", ""), st)
		}
		who, err := verifyKey(cmd.Context(), f, url, key)
		if err != nil {
			return err
		}
		f.printf("Key is valid: authenticated as %s.\n", who)
	}
	if err := f.storePut(cmd.Context(), profile, key, opts); err != nil {
		return err
	}
	f.printf("Stored %s for profile %q in the keychain.\n", credstore.Hint(key), profile)
	return nil
}

// readKey reads one key without echo on a terminal, else from stdin.
func readKey(f *Factory) (string, error) {
	var raw string
	if f.IO.StdinTTY && f.IO.ReadSecret != nil {
		f.printf("Paste your Torale API key (input is hidden): ")
		b, err := f.IO.ReadSecret()
		f.printf("\n")
		if err != nil {
			return "", fmt.Errorf("reading the key from the terminal: %w", err)
		}
		raw = string(b)
	} else {
		b, err := io.ReadAll(io.LimitReader(f.IO.In, maxKeyInput+1))
		if err != nil {
			return "", fmt.Errorf("reading the key from standard input: %w", err)
		}
		if len(b) > maxKeyInput {
			return "", fmt.Errorf("%w: standard input is longer than any key; pipe exactly one key", credstore.ErrBadKey)
		}
		raw = strings.TrimRight(string(b), "\r\n")
		if sc := bufio.NewScanner(strings.NewReader(raw)); strings.Count(raw, "\n") > 0 && sc.Scan() {
			return "", fmt.Errorf("%w: the input holds more than one line; pipe exactly one key", credstore.ErrBadKey)
		}
	}
	key, err := credstore.ParseKey(raw)
	if err != nil {
		return "", err
	}
	return key, nil
}
