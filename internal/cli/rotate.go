package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/internal/rotation"
)

func newRotateCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate",
		Short: "Replace the profile's key with a new one through the Torale API",
		Long: `Rotates the profile's stored key as Torale's docs advise every 90 days:
creates a new key named after the old one (POST /auth/api-keys), checks that
it works (GET /auth/me), stores it in the keychain and reads it back, and only
then revokes the old key (DELETE /auth/api-keys/{id}). Each step is reported
on stderr; the new key is never printed.

Where the server allows one active key per account it refuses the new key;
then nothing is changed and rotate explains how to rotate in the dashboard
(and, at a terminal, offers to store the new key you generate there).
On any other failure (key refused, rate limit, server error, no network)
nothing is changed either, and rotate exits 1. Should revoking the old key
fail after the new one is stored, the new key stays (it works) and rotate
exits 1 asking you to revoke the old one in the dashboard. It never asks
anything when standard input is not a terminal.`,
		Example: "  torale-cred rotate\n  torale-cred rotate --profile work",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return runRotate(cmd.Context(), f) },
	}
}

func runRotate(ctx context.Context, f *Factory) error {
	profile, err := f.profile()
	if err != nil {
		return err
	}
	period, err := f.rotationPeriod()
	if err != nil {
		return err
	}
	be := f.Backend()
	if _, err := be.Stored(ctx, profile); errors.Is(err, storeerr.ErrNotFound) {
		if r, rerr := be.Resolve(ctx, f.request(profile, "", "")); rerr == nil && r.KeySource == credstore.FromConfig {
			return fmt.Errorf(msgRotateOnlyPlaintext, storeerr.ErrNotFound, profile)
		}
		return err
	}
	// A store this machine cannot write is said before a key is created.
	storeName := ""
	if st, err := f.Store(); err == nil {
		if err := st.CheckWritable(ctx, profile, f.Getenv); err != nil {
			return fmt.Errorf(msgNothingChanged, err)
		}
		if spec := st.StoreOf(profile); spec.Remote() {
			storeName = fmt.Sprintf(msgRotateRemoteStore, spec.Where())
		}
	}
	if f.Getenv("TORALE_API_KEY") != "" {
		f.say(msgRotateEnvKeySet, prog, profile)
	}
	rot := &rotation.Rotator{Keys: be, Profile: profile, StoreName: storeName, Env: f.env(), Now: f.Now, Say: func(l string) { f.say("%s", l) },
		UsedBy: f.usedBy}
	if f.IO.StdinTTY && f.IO.ReadSecret != nil {
		rot.Paste = func() (string, error) {
			fmt.Fprint(f.IO.ErrOut, msgRotatePastePrompt)
			b, err := f.IO.ReadSecret(ctx)
			fmt.Fprintln(f.IO.ErrOut)
			return string(b), err
		}
	}
	res, err := rot.Rotate(ctx)
	if errors.Is(err, rotation.ErrOneKeyRule) {
		return reported(err) // the guidance is on the screen
	}
	if err != nil {
		return err
	}
	if res.Pasted {
		f.say(msgRotatePasted, res.NewHint, profile, res.OldHint)
		if !res.Revoked {
			f.say(msgRotateOldStillLive, prog, res.OldHint, dashboardKeysFor(res.URL))
		}
		return nil
	}
	f.say(msgRotated, profile, res.NewHint, res.OldHint, fmtPeriod(period))
	if env := f.Getenv("TORALE_API_KEY"); env != "" && apikey.Hint(env) == res.OldHint {
		f.say(msgRotateEnvKeyOld, prog)
	}
	return nil
}
