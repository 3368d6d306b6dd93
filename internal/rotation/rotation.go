// Package rotation is the key-rotation workflow as Torale's docs advise it
// (generate new, update, test, revoke old), with the live server's rules:
// create a new key, check it works, store it and read it back, and only
// then revoke the old one; where the server allows one active key, change
// nothing and guide the user through the dashboard. It never prints: it
// reports steps through Say and returns a Result or one sentence of error.
package rotation

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/internal/toraleapi"
)

// cleanupTimeout bounds the revoke of a new key that could not be stored,
// even after Ctrl-C.
const cleanupTimeout = 15 * time.Second

// ErrOneKeyRule: the server allows one active key and nothing was changed;
// the guidance went out through Say.
var ErrOneKeyRule = errors.New("the server allows one active key per account; nothing was changed")

// Rotator rotates one profile's stored key.
type Rotator struct {
	// Keys is where the key lives (the CLI's Backend).
	Keys credstore.Backend
	// StoreName names the profile's store in the steps ("" : the keychain;
	// "vault secret/torale/p at https://…" for a Vault profile).
	StoreName string
	// Profile is the profile whose key is rotated.
	Profile string
	// Env is the caller's environment, for the URL order.
	Env credstore.Env
	// API makes a Torale API client (default toraleapi.New).
	API func(url, key string) *toraleapi.Client
	// Say receives every step and piece of guidance, one line each.
	Say func(line string)
	// Paste, when set (a terminal), asks for the key the user generated in
	// the dashboard under the one-key rule; "" stops.
	Paste func() (string, error)
	// Now is the clock (default time.Now).
	Now func() time.Time
	// UsedBy, when set, names the programs that received the key with this
	// hint lately (from the audit trail), said before the old key is
	// revoked so the user knows what to restart or update.
	UsedBy func(hint string) []string
}

// Result is a rotation that changed something.
type Result struct {
	Profile          string
	NewHint, OldHint string
	// Revoked: the old key is no longer active on the server.
	Revoked bool
	// Pasted: the new key came from the dashboard (the one-key rule).
	Pasted bool
	URL    string
}

func (r *Rotator) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Rotator) api(url, key string) *toraleapi.Client {
	if r.API != nil {
		return r.API(url, key)
	}
	return toraleapi.New(url, key)
}

// Rotate runs the workflow. The error is one sentence with the fix; it
// says whether anything changed.
func (r *Rotator) Rotate(ctx context.Context) (Result, error) {
	// Every key read and written here goes through the hand-out point as
	// rotate's: judged, and in the trail.
	ctx = credstore.WithDoor(ctx, credstore.DoorRotate)
	stored, err := r.Keys.Stored(ctx, r.Profile)
	if err != nil {
		return Result{}, err
	}
	res, err := r.Keys.Resolve(ctx, credstore.Request{Profile: r.Profile, Env: r.Env, URLOnly: true})
	if err != nil {
		return Result{}, err
	}
	var prof credstore.Profile
	infos, err := r.Keys.List(ctx)
	if err != nil {
		return Result{}, err
	}
	for _, in := range infos {
		if in.Name == r.Profile {
			prof = in.Profile
		}
	}
	run := &run{Rotator: r, ctx: ctx, url: res.URL, old: stored.Key, oldAPI: r.api(res.URL, stored.Key),
		oldOpts: credstore.PutOptions{Source: prof.Source, CreatedAt: prof.CreatedAt, KeyID: prof.KeyID}}
	run.say("Rotating %s (profile %q) at %s:", apikey.Hint(stored.Key), r.Profile, res.URL)
	err = run.rotate(prof)
	run.result.URL = res.URL
	return run.result, err
}

// run is one rotation, after Rotate found the old key and its URL.
type run struct {
	*Rotator
	ctx     context.Context
	url     string
	old     string
	oldAPI  *toraleapi.Client
	oldOpts credstore.PutOptions // to put the old key back
	result  Result
}

func (r *run) step(format string, a ...any) { r.say("  "+format, a...) }

func (r *run) say(format string, a ...any) {
	if r.Say != nil {
		r.Say(fmt.Sprintf(format, a...))
	}
}

func (r *run) rotate(prof credstore.Profile) error {
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
		r.step("! the server lists no record for it; it will have to be revoked by hand at %s", toraleapi.DashboardFor(r.url))
	}
	name := newKeyName(oldRec.Name, r.Profile, r.now())

	nk, err := r.oldAPI.CreateKey(r.ctx, name)
	if errors.Is(err, toraleapi.ErrOneActiveKey) {
		return r.oneKeyRule(oldRec, found)
	}
	if err != nil {
		return r.unchanged("creating the new key", err)
	}
	r.step("✓ created a new key %s named %q", apikey.Hint(nk.Key), name)
	newAPI := r.api(r.url, nk.Key)

	me2, err := newAPI.Me(r.ctx)
	if err == nil && me.ID != "" && me2.ID != me.ID {
		err = fmt.Errorf("it belongs to another account (%s)", who(me2))
	}
	if err != nil {
		return r.undoNew(nk, fmt.Errorf("the new key %s did not work: %w", apikey.Hint(nk.Key), err))
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
	where := "the keychain"
	if r.StoreName != "" {
		where = r.StoreName
	}
	r.step("✓ stored the new key in " + where + " and read it back")

	if !found || oldRec.ID == "" {
		return r.oldNotRevoked(nk, errors.New("the server did not say the old key's id"))
	}
	r.usedBy()
	if err := newAPI.RevokeKey(r.ctx, oldRec.ID); err != nil {
		return r.oldNotRevoked(nk, err)
	}
	r.step("✓ revoked the old key %s", apikey.Hint(r.old))
	r.result = Result{Profile: r.Profile, NewHint: apikey.Hint(nk.Key), OldHint: apikey.Hint(r.old), Revoked: true}
	return nil
}

// store puts the new key in the keychain and reads it back. When that
// fails, the keychain must hold the old key again before the new one is
// revoked; when it cannot be made to, both keys are left active and the
// user is told which is stored.
func (r *run) store(nk toraleapi.NewKey, opts credstore.PutOptions) error {
	_, err := r.Keys.Put(r.ctx, r.Profile, nk.Key, opts)
	if err == nil {
		if err = r.readBack(nk.Key); err == nil {
			return nil
		}
	} else {
		err = fmt.Errorf("storing the new key failed: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), cleanupTimeout)
	defer cancel()
	held, gerr := r.storedKey(ctx)
	switch {
	case gerr == nil && held == r.old:
		return r.undoNew(nk, err)
	case gerr == nil && held == nk.Key:
		// The key went in but something after it failed (the metadata):
		// put the old key back, then drop the new one.
		// Its metadata may fail again (the reason we are here); what counts
		// is that the keychain holds the old key again.
		_, _ = r.Keys.Put(ctx, r.Profile, r.old, r.oldOpts)
		if back, berr := r.storedKey(ctx); berr == nil && back == r.old {
			return r.undoNew(nk, err)
		}
		return fmt.Errorf("%w; the keychain holds the new key %s, which works, and the old key %s is still active: revoke %s at %s once nothing uses it",
			err, apikey.Hint(nk.Key), apikey.Hint(r.old), apikey.Hint(r.old), toraleapi.DashboardFor(r.url))
	}
	return r.bothActive(nk, err)
}

// bothActive reports a store failure after which the keychain's content is
// unknown: nothing is revoked, so whichever key it holds still works.
func (r *run) bothActive(nk toraleapi.NewKey, err error) error {
	return fmt.Errorf("%w; both the old key %s and the new key %s are still active: run torale-cred status to see which one is stored, then revoke the other at %s",
		err, apikey.Hint(r.old), apikey.Hint(nk.Key), toraleapi.DashboardFor(r.url))
}

// storedKey is what the keychain holds for the profile now.
func (r *run) storedKey(ctx context.Context) (string, error) {
	res, err := r.Keys.Stored(ctx, r.Profile)
	return res.Key, err
}

// readBack checks that the new key is what the keychain holds.
func (r *run) readBack(key string) error {
	back, err := r.storedKey(r.ctx)
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
func (r *run) unchanged(doing string, err error) error {
	hint := apikey.Hint(r.old)
	var ae *toraleapi.APIError
	errors.As(err, &ae)
	switch {
	case errors.Is(err, toraleapi.ErrUnauthorized):
		return fmt.Errorf("the Torale API at %s refused the stored key %s (401 %s), so it was revoked or is wrong; nothing was changed: generate a new key at %s and run: torale-cred login --profile %s",
			r.url, hint, detailOr(ae, "Invalid API key"), toraleapi.DashboardFor(r.url), r.Profile)
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
func (r *run) undoNew(nk toraleapi.NewKey, cause error) error {
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
			r.step("✓ revoked the unused new key %s again", apikey.Hint(nk.Key))
			return fmt.Errorf("%w; the old key %s is still stored and works, nothing was changed", cause, apikey.Hint(r.old))
		}
	}
	return fmt.Errorf("%w; the old key %s is still stored and works, but the unused new key %s could not be revoked: revoke it at %s",
		cause, apikey.Hint(r.old), apikey.Hint(nk.Key), toraleapi.DashboardFor(r.url))
}

// oldNotRevoked reports the one failure after which something did change:
// the new key is stored and works, the old one is still active.
func (r *run) oldNotRevoked(nk toraleapi.NewKey, err error) error {
	return fmt.Errorf("the new key %s is stored and works, but revoking the old key %s failed (%v): nothing is lost, but revoke %s by hand at %s",
		apikey.Hint(nk.Key), apikey.Hint(r.old), err, apikey.Hint(r.old), toraleapi.DashboardFor(r.url))
}

// usedBy says which programs used the old key lately, before it is
// revoked (by rotate, or by the user in the dashboard).
func (r *run) usedBy() {
	if r.UsedBy == nil {
		return
	}
	for _, line := range r.UsedBy(apikey.Hint(r.old)) {
		r.step("%s", line)
	}
}

// oneKeyRule guides the user through a dashboard rotation when the server
// allows one active key, and at a terminal offers to store the new key.
func (r *run) oneKeyRule(oldRec toraleapi.KeyRecord, found bool) error {
	hint := apikey.Hint(r.old)
	named := ""
	if found && oldRec.Name != "" {
		named = fmt.Sprintf(" (%q)", oldRec.Name)
	}
	r.say("The Torale API at %s allows one active key per account, so a new key cannot be created beside %s; nothing was changed.", r.url, hint)
	r.usedBy()
	r.say("Rotate it in the dashboard instead:")
	r.say("  1. At %s, revoke %s%s.", toraleapi.DashboardFor(r.url), hint, named)
	r.say("  2. Generate a new key there and copy it (it is shown once).")
	r.say("  3. Run: torale-cred login --profile %s   (the new key's age counts from then)", r.Profile)
	if r.Paste == nil {
		return ErrOneKeyRule
	}
	raw, err := r.Paste()
	if err != nil {
		return fmt.Errorf("reading the key from the terminal: %w; nothing was changed", err)
	}
	if strings.TrimSpace(raw) == "" {
		return ErrOneKeyRule
	}
	key, err := apikey.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w; nothing was changed", err)
	}
	if key == r.old {
		return fmt.Errorf("that is the key already stored (%s); generate a new one at %s; nothing was changed", hint, toraleapi.DashboardFor(r.url))
	}
	api := r.api(r.url, key)
	if _, err := api.Me(r.ctx); err != nil {
		if errors.Is(err, toraleapi.ErrUnauthorized) {
			return fmt.Errorf("the Torale API refused the pasted key %s (401); nothing was changed: copy it again from %s", apikey.Hint(key), toraleapi.DashboardFor(r.url))
		}
		return fmt.Errorf("checking the pasted key %s: %w; nothing was changed, run torale-cred login --profile %s when the API answers", apikey.Hint(key), err, r.Profile)
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
	if _, err := r.Keys.Put(r.ctx, r.Profile, key, opts); err != nil {
		return err
	}
	if err := r.readBack(key); err != nil {
		return err
	}
	r.result = Result{Profile: r.Profile, NewHint: apikey.Hint(key), OldHint: hint, Revoked: !stillActive(r.ctx, api, r.old), Pasted: true}
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
// again so names do not grow with every rotation.
// It is compiled on first use: a regexp built at init costs every process
// that links this package, rotating or not.
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
