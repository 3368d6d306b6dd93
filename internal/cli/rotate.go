package cli

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/internal/toraleapi"
)

// dashboardKeys is where a person manages keys by hand.
const dashboardKeys = "torale.ai → Settings → API Keys"

// cleanupTimeout bounds the revoke of a new key that could not be stored,
// even after Ctrl-C.
const cleanupTimeout = 15 * time.Second

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
	st, err := f.Store()
	if err != nil {
		return err
	}
	old, err := st.StoredKey(ctx, profile)
	if errors.Is(err, credstore.ErrNotFound) {
		if c := st.Plaintext(profile); c.APIKey != "" {
			return fmt.Errorf("%w: profile %q has no key in the keychain, only a plaintext one in %s; run torale-cred import first, then rotate",
				credstore.ErrNotFound, profile, st.ConfigPath)
		}
		return noKeyError(profile)
	}
	if err != nil {
		return err
	}
	meta, err := st.Metadata()
	if err != nil {
		return err
	}
	var prof credstore.Profile
	if p := meta.Profiles[profile]; p != nil {
		prof = *p
	}
	url, _ := credstore.ResolveURL(f.request(profile, "", ""), st)
	if env := f.Getenv("TORALE_API_KEY"); env != "" {
		f.printf("torale-cred: note: TORALE_API_KEY is set and takes precedence; rotate replaces the key stored for profile %q, not that one.\n", profile)
	}
	rot := rotation{f: f, ctx: ctx, profile: profile, url: url, old: old, oldAPI: toraleapi.New(url, old)}
	f.printf("Rotating %s (profile %q) at %s:\n", credstore.Hint(old), profile, url)
	return rot.run(prof)
}

// rotation is one run of `rotate`.
type rotation struct {
	f       *Factory
	ctx     context.Context
	profile string
	url     string
	old     string
	oldAPI  *toraleapi.Client
}

func (r *rotation) step(format string, a ...any) { r.f.printf("  "+format+"\n", a...) }

func (r *rotation) run(prof credstore.Profile) error {
	me, err := r.oldAPI.Me(r.ctx)
	if err != nil {
		return r.unchanged("checking the stored key", err)
	}
	r.step("✓ the stored key works (%s)", who(me))

	list, err := r.oldAPI.ListKeys(r.ctx)
	if err != nil {
		return r.unchanged("listing your keys", err)
	}
	oldRec, found := toraleapi.FindKey(list, r.old)
	if !found && prof.KeyID != nil {
		for _, k := range list {
			if k.ID == *prof.KeyID {
				oldRec, found = k, true
			}
		}
	}
	if found {
		r.step("✓ found it on the server: %q, id %s", oldRec.Name, oldRec.ID)
	} else {
		r.step("! the server lists no record for it; it will have to be revoked by hand at %s", dashboardKeys)
	}
	name := newKeyName(oldRec.Name, r.profile, r.f.Now())

	nk, err := r.oldAPI.CreateKey(r.ctx, name)
	if errors.Is(err, toraleapi.ErrOneActiveKey) {
		return r.oneKeyRule(oldRec, found)
	}
	if err != nil {
		return r.unchanged("creating the new key", err)
	}
	r.step("✓ created a new key %s named %q", credstore.Hint(nk.Key), name)
	newAPI := toraleapi.New(r.url, nk.Key)

	me2, err := newAPI.Me(r.ctx)
	if err == nil && me.ID != "" && me2.ID != me.ID {
		err = fmt.Errorf("it belongs to another account (%s)", who(me2))
	}
	if err != nil {
		return r.undoNew(nk, fmt.Errorf("the new key %s did not work: %w", credstore.Hint(nk.Key), err))
	}
	r.step("✓ the new key works")

	opts := credstore.PutOptions{Source: credstore.SourceRotate, CreatedAt: nk.Record.CreatedAt}
	if nk.Record.ID != "" {
		id := nk.Record.ID
		opts.KeyID = &id
	}
	if err := r.store(nk, opts); err != nil {
		return err
	}
	r.step("✓ stored the new key in the keychain and read it back")

	if !found || oldRec.ID == "" {
		return r.oldNotRevoked(nk, errors.New("the server did not say the old key's id"))
	}
	if err := newAPI.RevokeKey(r.ctx, oldRec.ID); err != nil {
		return r.oldNotRevoked(nk, err)
	}
	r.step("✓ revoked the old key %s", credstore.Hint(r.old))
	r.f.printf("Rotated profile %q: %s replaces %s; the next rotation is due in %s.\n", r.profile, credstore.Hint(nk.Key), credstore.Hint(r.old), fmtPeriod(r.f.rotationPeriod()))
	if env := r.f.Getenv("TORALE_API_KEY"); env == r.old {
		r.f.printf("torale-cred: note: TORALE_API_KEY in this shell still holds the old, now revoked key; unset it or run: export TORALE_API_KEY=\"$(torale-cred token)\"\n")
	}
	return nil
}

// store puts the new key in the keychain and reads it back. When that
// fails, the keychain must hold the old key again before the new one is
// revoked; when it cannot be made to, both keys are left active and the
// user is told which is stored.
func (r *rotation) store(nk toraleapi.NewKey, opts credstore.PutOptions) error {
	err := r.f.storePut(r.ctx, r.profile, nk.Key, opts)
	if err == nil {
		if err = r.readBack(nk.Key); err == nil {
			return nil
		}
	} else {
		err = fmt.Errorf("storing the new key failed: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), cleanupTimeout)
	defer cancel()
	st, serr := r.f.Store()
	if serr != nil {
		return r.bothActive(nk, err)
	}
	held, gerr := st.StoredKey(ctx, r.profile)
	switch {
	case gerr == nil && held == r.old:
		return r.undoNew(nk, err)
	case gerr == nil && held == nk.Key:
		// The key went in but something after it failed (the metadata):
		// put the old key back, then drop the new one.
		if st.Keychain.Set(ctx, r.profile, r.old) == nil {
			if back, berr := st.StoredKey(ctx, r.profile); berr == nil && back == r.old {
				return r.undoNew(nk, err)
			}
		}
		return fmt.Errorf("%w; the keychain holds the new key %s, which works, and the old key %s is still active: revoke %s at %s once nothing uses it",
			err, credstore.Hint(nk.Key), credstore.Hint(r.old), credstore.Hint(r.old), dashboardKeys)
	}
	return r.bothActive(nk, err)
}

// bothActive reports a store failure after which the keychain's content is
// unknown: nothing is revoked, so whichever key it holds still works.
func (r *rotation) bothActive(nk toraleapi.NewKey, err error) error {
	return fmt.Errorf("%w; both the old key %s and the new key %s are still active: run torale-cred status to see which one is stored, then revoke the other at %s",
		err, credstore.Hint(r.old), credstore.Hint(nk.Key), dashboardKeys)
}

// readBack checks with a direct keychain read that the new key is what the
// keychain holds, whichever way it was stored (daemon or direct).
func (r *rotation) readBack(key string) error {
	st, err := r.f.Store()
	if err != nil {
		return err
	}
	back, err := st.StoredKey(r.ctx, r.profile)
	if err != nil {
		return fmt.Errorf("reading the new key back from the keychain failed: %w", err)
	}
	if back != key {
		return errors.New("the keychain returned another key after storing the new one")
	}
	return nil
}

// unchanged words a failure before anything was changed as one sentence
// with the fix.
func (r *rotation) unchanged(doing string, err error) error {
	hint := credstore.Hint(r.old)
	var ae *toraleapi.APIError
	errors.As(err, &ae)
	switch {
	case errors.Is(err, toraleapi.ErrUnauthorized):
		return fmt.Errorf("the Torale API at %s refused the stored key %s (401 %s), so it was revoked or is wrong; nothing was changed: generate a new key at %s and run: torale-cred login --profile %s",
			r.url, hint, detailOr(ae, "Invalid API key"), dashboardKeys, r.profile)
	case errors.Is(err, toraleapi.ErrRateLimited):
		wait := "a minute"
		if ae != nil && ae.RetryAfter > 0 {
			wait = fmt.Sprintf("%d seconds", int(ae.RetryAfter.Seconds()))
		}
		return fmt.Errorf("the Torale API is rate limiting requests (429 while %s); nothing was changed: try again in %s", doing, wait)
	case errors.Is(err, toraleapi.ErrServer):
		return fmt.Errorf("the Torale API at %s failed while %s (%d %s); nothing was changed: try again later",
			r.url, doing, ae.Status, detailOr(ae, "server error"))
	case errors.Is(err, toraleapi.ErrUnreachable), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: %w; nothing was changed: check the network and try again", doing, err)
	}
	return fmt.Errorf("%s: %w; nothing was changed", doing, err)
}

func detailOr(ae *toraleapi.APIError, d string) string {
	if ae != nil && ae.Detail != "" {
		return ae.Detail
	}
	return d
}

// undoNew revokes a new key that will not be used, so the account is left
// as it was; the old key stays stored and working.
func (r *rotation) undoNew(nk toraleapi.NewKey, cause error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), cleanupTimeout)
	defer cancel()
	id := nk.Record.ID
	if id == "" {
		if list, err := r.oldAPI.ListKeys(ctx); err == nil {
			if rec, ok := toraleapi.FindKey(list, nk.Key); ok {
				id = rec.ID
			}
		}
	}
	if id != "" {
		if err := r.oldAPI.RevokeKey(ctx, id); err == nil {
			r.step("✓ revoked the unused new key %s again", credstore.Hint(nk.Key))
			return fmt.Errorf("%w; the old key %s is still stored and works, nothing was changed", cause, credstore.Hint(r.old))
		}
	}
	return fmt.Errorf("%w; the old key %s is still stored and works, but the unused new key %s could not be revoked: revoke it at %s",
		cause, credstore.Hint(r.old), credstore.Hint(nk.Key), dashboardKeys)
}

// oldNotRevoked reports the one failure after which something did change:
// the new key is stored and works, the old one is still active.
func (r *rotation) oldNotRevoked(nk toraleapi.NewKey, err error) error {
	return fmt.Errorf("the new key %s is stored and works, but revoking the old key %s failed (%v): nothing is lost, but revoke %s by hand at %s",
		credstore.Hint(nk.Key), credstore.Hint(r.old), err, credstore.Hint(r.old), dashboardKeys)
}

// oneKeyRule guides the user through a dashboard rotation when the server
// allows one active key, and at a terminal offers to store the new key.
func (r *rotation) oneKeyRule(oldRec toraleapi.KeyRecord, found bool) error {
	hint := credstore.Hint(r.old)
	named := ""
	if found && oldRec.Name != "" {
		named = fmt.Sprintf(" (%q)", oldRec.Name)
	}
	f := r.f
	f.printf("torale-cred: the Torale API at %s allows one active key per account, so a new key cannot be created beside %s; nothing was changed.\n", r.url, hint)
	f.printf("Rotate it in the dashboard instead:\n")
	f.printf("  1. At %s, revoke %s%s.\n", dashboardKeys, hint, named)
	f.printf("  2. Generate a new key there and copy it (it is shown once).\n")
	f.printf("  3. Run: torale-cred login --profile %s   (the new key's age counts from then)\n", r.profile)
	if !f.IO.StdinTTY || f.IO.ReadSecret == nil {
		return &ExitCodeError{Code: ExitFailure}
	}
	f.printf("Or paste the new key here once you have it (input is hidden; Enter alone stops): ")
	b, err := f.IO.ReadSecret()
	f.printf("\n")
	if err != nil {
		return fmt.Errorf("reading the key from the terminal: %w; nothing was changed", err)
	}
	if strings.TrimSpace(string(b)) == "" {
		return &ExitCodeError{Code: ExitFailure}
	}
	key, err := credstore.ParseKey(string(b))
	if err != nil {
		return fmt.Errorf("%w; nothing was changed", err)
	}
	if key == r.old {
		return fmt.Errorf("that is the key already stored (%s); generate a new one at %s; nothing was changed", hint, dashboardKeys)
	}
	api := toraleapi.New(r.url, key)
	if _, err := api.Me(r.ctx); err != nil {
		if errors.Is(err, toraleapi.ErrUnauthorized) {
			return fmt.Errorf("the Torale API refused the pasted key %s (401); nothing was changed: copy it again from %s", credstore.Hint(key), dashboardKeys)
		}
		return fmt.Errorf("checking the pasted key %s: %w; nothing was changed, run torale-cred login --profile %s when the API answers", credstore.Hint(key), err, r.profile)
	}
	opts := credstore.PutOptions{Source: credstore.SourceRotate}
	if list, err := api.ListKeys(r.ctx); err == nil {
		if rec, ok := toraleapi.FindKey(list, key); ok {
			opts.CreatedAt = rec.CreatedAt
			if rec.ID != "" {
				id := rec.ID
				opts.KeyID = &id
			}
		}
	}
	if err := f.storePut(r.ctx, r.profile, key, opts); err != nil {
		return err
	}
	if err := r.readBack(key); err != nil {
		return err
	}
	f.printf("Stored %s for profile %q in the keychain; it replaces %s.\n", credstore.Hint(key), r.profile, hint)
	if stillActive(r.ctx, api, r.old) {
		f.printf("torale-cred: note: the old key %s is still active on the server; revoke it at %s.\n", hint, dashboardKeys)
	}
	return nil
}

// stillActive reports whether the server lists key as active (false when
// it cannot tell).
func stillActive(ctx context.Context, api *toraleapi.Client, key string) bool {
	list, err := api.ListKeys(ctx)
	if err != nil {
		return false
	}
	rec, ok := toraleapi.FindKey(list, key)
	return ok && rec.Active
}

func who(u toraleapi.User) string {
	switch {
	case u.Email != "":
		return u.Email
	case u.ID != "":
		return "user " + u.ID
	}
	return "account unknown"
}

// rotatedSuffix is what newKeyName appends, and strips before appending
// again so names do not grow with every rotation. Compiled on first use,
// not at init: every other command would pay for it.
var rotatedSuffix = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(` \(rotated \d{4}-\d{2}-\d{2}\)$`)
})

// newKeyName names the new key after the old one, with the date, so the two
// are told apart in the dashboard.
func newKeyName(old, profile string, now time.Time) string {
	base := strings.TrimSpace(rotatedSuffix().ReplaceAllString(old, ""))
	if base == "" {
		base = "torale-cred " + profile
	}
	const maxName = 100
	if len(base) > maxName {
		base = base[:maxName]
	}
	return fmt.Sprintf("%s (rotated %s)", base, now.UTC().Format("2006-01-02"))
}

// rotateAfter is --rotate-after: days ("60d", "90") or a Go duration
// ("36h"). Bad values are usage errors when the flag is parsed.
type rotateAfter struct {
	d   time.Duration
	set bool
	// warned keeps a bad TORALE_CRED_ROTATE_AFTER to one warning.
	warned bool
}

func (p *rotateAfter) String() string {
	if !p.set {
		return ""
	}
	return fmtPeriod(p.d)
}

func (p *rotateAfter) Set(s string) error {
	d, err := parsePeriod(s)
	if err != nil {
		return err
	}
	p.d, p.set = d, true
	return nil
}

func (p *rotateAfter) Type() string { return "period" }

// Bounds on the rotation period: short ones are for trying reminders out.
const (
	minPeriod = time.Minute
	maxPeriod = 10 * 365 * 24 * time.Hour
)

// parsePeriod reads "90d", "90" (days) or a Go duration such as "36h".
func parsePeriod(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok || isDigits(s) {
		if !ok {
			n = s
		}
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 || days > int(maxPeriod/(24*time.Hour)) {
			return 0, fmt.Errorf("%q is not a rotation period: use days such as 60d or 90d, or a duration such as 36h", s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		d, err = time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("%q is not a rotation period: use days such as 60d or 90d, or a duration such as 36h", s)
		}
	}
	if d < minPeriod || d > maxPeriod {
		return 0, fmt.Errorf("rotation period %q is out of range: between 1m and 3650d", s)
	}
	return d, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func fmtPeriod(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// rotationPeriodChecked is how long a key lives before it is due:
// --rotate-after, else TORALE_CRED_ROTATE_AFTER, else 90 days. A bad
// environment value is a usage error (the daemon refuses to start on it).
func (f *Factory) rotationPeriodChecked() (time.Duration, error) {
	if f.RotateAfter.set {
		return f.RotateAfter.d, nil
	}
	if v := f.Getenv("TORALE_CRED_ROTATE_AFTER"); v != "" {
		d, err := parsePeriod(v)
		if err != nil {
			return 0, usageErrorf("TORALE_CRED_ROTATE_AFTER: %s", err)
		}
		return d, nil
	}
	return credstore.DefaultRotationPeriod, nil
}

// rotationPeriod is rotationPeriodChecked for display: a bad environment
// value is warned about once and the default used.
func (f *Factory) rotationPeriod() time.Duration {
	d, err := f.rotationPeriodChecked()
	if err != nil {
		if !f.RotateAfter.warned {
			f.RotateAfter.warned = true
			f.printf("torale-cred: warning: TORALE_CRED_ROTATE_AFTER=%q is not a period such as 90d; using 90 days\n", f.Getenv("TORALE_CRED_ROTATE_AFTER"))
		}
		return credstore.DefaultRotationPeriod
	}
	return d
}

// warnIfRotationDue prints a one-line rotation hint on stderr when the
// resolved key is the stored one and it is due (token, exec). Stdout is
// never touched, and a failure to read the metadata is silent: the hint is
// a courtesy, never a reason to fail.
func (f *Factory) warnIfRotationDue(r credstore.Resolution) {
	if r.KeySource != credstore.FromKeychain || r.Key == "" {
		return
	}
	st, err := f.Store()
	if err != nil {
		return
	}
	meta, err := st.Metadata()
	if err != nil {
		return
	}
	p := meta.Profiles[r.Profile]
	if p == nil || p.KeyHint != credstore.Hint(r.Key) {
		return
	}
	rot := credstore.RotationOf(*p, f.rotationPeriod(), f.Now())
	if !rot.Due {
		return
	}
	f.printf("torale-cred: the key %s for profile %q is %d days old (rotation was due on %s); run: torale-cred rotate --profile %s\n",
		p.KeyHint, r.Profile, rot.AgeDays, rot.DueAt.Format("2006-01-02"), r.Profile)
}
