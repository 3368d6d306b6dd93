package credstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/internal/safefile"
	"github.com/torale-ai/torale-cred/internal/toraleconfig"
	"github.com/torale-ai/torale-cred/internal/trust"
)

// MigrationOutcome says what one migration of config.json did.
type MigrationOutcome string

const (
	// Migrated: the key is in the keychain and config.json no longer holds it.
	Migrated MigrationOutcome = "migrated"
	// NothingToMigrate: config.json is absent or holds no api_key.
	NothingToMigrate MigrationOutcome = "nothing"
	// LeftInPlace: config.json holds (or may hold) a key that stays there;
	// the result's Problem and Reason say why.
	LeftInPlace MigrationOutcome = "left_in_place"
)

// MigrationProblem names why a key was left in config.json.
type MigrationProblem string

const (
	ProblemMalformed  MigrationProblem = "malformed"   // BOM, not JSON, not an object, api_key not a string, …
	ProblemBadKey     MigrationProblem = "bad_key"     // api_key is a string but not a Torale key
	ProblemUnreadable MigrationProblem = "unreadable"  // permission denied or another read error
	ProblemNotRegular MigrationProblem = "not_regular" // a directory (or a device, a FIFO) where the file should be
	ProblemTooLarge   MigrationProblem = "too_large"   // over toraleconfig.MaxSize
	ProblemKeychain   MigrationProblem = "keychain"    // the keychain is unavailable, locked or slow
	ProblemStore      MigrationProblem = "store"       // storing or recording the key failed otherwise
	ProblemWrite      MigrationProblem = "write"       // the key is stored but config.json could not be rewritten
	ProblemBusy       MigrationProblem = "busy"        // config.json kept changing while it was being rewritten
	ProblemUntrusted  MigrationProblem = "untrusted"   // owned by another user or writable by others (SPEC's trust rules)
)

// Transient reports whether trying again later can succeed without anyone
// touching config.json (the keychain coming back, a write that raced).
func (p MigrationProblem) Transient() bool {
	switch p {
	case ProblemKeychain, ProblemStore, ProblemWrite, ProblemBusy:
		return true
	}
	return false
}

// MigrationResult is what a migration did. It never holds a key: at most
// key hints (sk_... and the last 5 characters).
type MigrationResult struct {
	Outcome MigrationOutcome `json:"outcome"`
	// Path is config.json as configured; Target the file read and rewritten
	// (different when Path is a symlink, which is kept).
	Path    string `json:"path"`
	Target  string `json:"target,omitempty"`
	Profile string `json:"profile"`
	// KeyHint is the key moved (Migrated) or kept in the file for a
	// transient reason (LeftInPlace with the keychain unavailable).
	KeyHint string `json:"key_hint,omitempty"`
	// PreviousKeyHint is the stored key the moved one replaced, which is
	// kept (displaced.go).
	PreviousKeyHint string `json:"previous_key_hint,omitempty"`
	// Problem and Reason say why the key stayed (LeftInPlace); Reason also
	// says why there was nothing to do (NothingToMigrate). One clause each,
	// never a key.
	Problem MigrationProblem `json:"problem,omitempty"`
	Reason  string           `json:"reason,omitempty"`
	// APIURL is config.json's api_url, when it names one (for the wording
	// of where to revoke a replaced key).
	APIURL string `json:"api_url,omitempty"`
	// Endpoint is the local endpoint's URL when config.json now names it
	// (with the profile's local token in the key's place), or names it
	// again after the user wrote another api_url (APIURL, now the tier).
	Endpoint string `json:"endpoint,omitempty"`
	// Warning is something the user should act on although the key moved:
	// other hard links to the old file still hold it.
	Warning string `json:"warning,omitempty"`
}

// String is the result as one sentence for people and logs.
func (r MigrationResult) String() string {
	switch r.Outcome {
	case Migrated:
		s := fmt.Sprintf("moved %s from %s into the keychain for profile %q", r.KeyHint, r.Path, r.Profile)
		if r.PreviousKeyHint != "" {
			s += fmt.Sprintf(", replacing %s; %s", r.PreviousKeyHint, KeptMessage(r.Profile, r.PreviousKeyHint))
		}
		if r.Endpoint != "" {
			s += fmt.Sprintf("; config.json now holds a local token and the local endpoint %s, which adds the key to each request", r.Endpoint)
		}
		return s
	case NothingToMigrate:
		return "nothing to move: " + r.Reason
	}
	if r.Problem.Read() {
		return fmt.Sprintf("left the plaintext key in %s: %s", r.Path, r.Reason)
	}
	return fmt.Sprintf("read nothing from %s: %s", r.Path, r.Reason)
}

// Read reports whether config.json was read before the problem arose, so
// it is known to hold a key; false for a file never opened (untrusted, not
// a regular file, too large, unreadable).
func (p MigrationProblem) Read() bool {
	switch p {
	case ProblemUntrusted, ProblemNotRegular, ProblemTooLarge, ProblemUnreadable:
		return false
	}
	return true
}

// MigrationError is returned with a LeftInPlace result. It wraps the cause,
// so errors.Is(err, storeerr.ErrKeychain) tells a keychain failure (exit 4,
// retry when the keychain is back) from a file that must be fixed first.
type MigrationError struct {
	Result MigrationResult
	Err    error
}

func (e *MigrationError) Error() string { return e.Result.String() }
func (e *MigrationError) Unwrap() error { return e.Err }

// maxMigrationAttempts bounds the start-overs when config.json keeps
// changing between the read and the rename.
const maxMigrationAttempts = 5

// MigrateConfig moves a plaintext api_key from config.json (s.ConfigPath)
// into the keychain for config.json's profile (ConfigOwner), in an order that leaves the key in
// at least one place whatever instant the process dies: read and validate,
// store in the keychain and read it back, rewrite the file atomically
// without api_key (keeping every other byte), then record the metadata as
// Put does (source "config"; never the profile's URL). If the file
// changed between the read and the rename, nothing is overwritten and the
// migration starts over.
//
// Returns (Migrated, nil) when the key moved; (NothingToMigrate, nil) when
// the file is absent or holds no key (a deleted file never removes a stored
// key); (LeftInPlace, *MigrationError) when the key stays in the file, which
// is then untouched byte for byte unless the error is ProblemWrite (key
// stored, rewrite failed: the key is in both places); (Migrated, error)
// when only recording the metadata failed.
func (s *Store) MigrateConfig(ctx context.Context) (MigrationResult, error) {
	return s.MigrateConfigTo(ctx, s.ConfigOwner())
}

// MigrateConfigTo is MigrateConfig into profile, for this one migration:
// `import --profile`. It records nothing about which profile config.json
// belongs to (SPEC: a migration never re-targets the daemon's profile;
// only `daemon --profile` does, through SetConfigOwner).
func (s *Store) MigrateConfigTo(ctx context.Context, profile string) (MigrationResult, error) {
	res := MigrationResult{Path: s.ConfigPath, Profile: profile}
	if err := CheckProfile(profile); err != nil {
		return res, err
	}
	if s.ConfigPath == "" {
		return res, errors.New("no config.json path configured")
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		r, err := s.migrateOnce(ctx, res)
		if !errors.Is(err, toraleconfig.ErrChanged) {
			return r, err
		}
		if attempt+1 >= maxMigrationAttempts {
			return left(r, ProblemBusy, "it kept changing while torale-cred rewrote it; it will be tried again", err)
		}
	}
}

func (s *Store) migrateOnce(ctx context.Context, res MigrationResult) (MigrationResult, error) {
	snap, err := toraleconfig.Load(res.Path)
	res.Target = snap.Target
	switch {
	case err != nil && !errors.Is(err, toraleconfig.ErrMalformed):
		return notRead(res, err)
	case !snap.Exists:
		res.Outcome, res.Reason = NothingToMigrate, res.Path+" does not exist"
		return res, nil
	case snap.Empty():
		res.Outcome, res.Reason = NothingToMigrate, res.Path+" is empty"
		return res, nil
	case err != nil:
		return left(res, ProblemMalformed, err.Error()+"; fix the file, then run torale-cred import", err)
	}
	c := snap.Config
	switch {
	case !c.HasKey:
		res.Outcome, res.Reason = NothingToMigrate, res.Path+" holds no api_key"
		return res, nil
	case c.APIKey == "":
		res.Outcome, res.Reason = NothingToMigrate, res.Path+" has an empty api_key"
		return res, nil
	}
	if IsLocalToken(c.APIKey) {
		return s.keepEndpoint(res, snap) // torale-cred's own token: never "migrated"
	}
	if _, kerr := apikey.Parse(c.APIKey); kerr != nil || !apikey.Valid(c.APIKey) {
		if kerr == nil {
			kerr = fmt.Errorf("%w: it has whitespace around it", apikey.ErrBadKey)
		}
		detail := strings.TrimPrefix(kerr.Error(), apikey.ErrBadKey.Error()+": ")
		return left(res, ProblemBadKey, "its api_key is not a well-formed Torale key: "+detail+"; fix it, or store the right key with torale-cred login", kerr)
	}
	// With the local endpoint on, the key's place gets the profile's local
	// token and api_url the endpoint's URL; else the key is removed.
	stripped, endpointURL, err := s.endpointContent(ctx, res.Profile, snap.Raw)
	switch {
	case err != nil && errors.Is(err, storeerr.ErrKeychain):
		return left(res, ProblemKeychain, err.Error()+"; it will be moved once the keychain answers", err)
	case err != nil && errors.Is(err, toraleconfig.ErrMalformed):
		return left(res, ProblemMalformed, err.Error(), err)
	case err != nil:
		return left(res, ProblemStore, "making the local token failed: "+err.Error(), err)
	case endpointURL == "":
		if stripped, err = toraleconfig.WithoutKey(snap.Raw); err != nil {
			return left(res, ProblemMalformed, err.Error(), err)
		}
		if after, err := toraleconfig.Parse(stripped); err != nil || after.HasKey {
			return left(res, ProblemMalformed, "removing api_key would not leave a clean file", err)
		}
	}

	// A migration never sets the profile's URL: config.json's api_url
	// stays config.json's (SPEC's URL order).
	opts := PutOptions{Source: SourceConfig}
	res.KeyHint, res.APIURL = apikey.Hint(c.APIKey), c.APIURL
	old, err := s.putKeychain(ctx, res.Profile, c.APIKey, SourceConfig)
	if err != nil {
		if errors.Is(err, storeerr.ErrKeychain) {
			return left(res, ProblemKeychain, err.Error()+"; it will be moved once the keychain answers", err)
		}
		return left(res, ProblemStore, "storing it failed: "+err.Error(), err)
	}

	// The keychain holds the key: only now may it leave the file. The
	// metadata comes last, so it does not lengthen the time the key sits
	// on disk; it is recorded whatever became of the rewrite, since the
	// keychain changed either way.
	if endpointURL != "" {
		// Remembered before config.json names the endpoint, so its former
		// URL is never lost whatever instant the process dies.
		if err := s.rememberConfigURL(c.APIURL); err != nil {
			return left(res, ProblemWrite, "the key is now in the keychain too, but recording config.json's api_url failed: "+err.Error(), err)
		}
		res.Endpoint = endpointURL
	}
	// The rewrite undoes itself when the official CLI wrote the file in
	// the last instant (in place or by rename), so no key written then is
	// lost.
	werr := toraleconfig.Rewrite(snap, stripped)
	merr := s.recordPut(res.Profile, c.APIKey, old, opts)
	switch {
	case errors.Is(werr, toraleconfig.ErrChanged):
		return res, werr
	case werr != nil:
		return left(res, ProblemWrite, "the key is now in the keychain too, but rewriting the file failed: "+werr.Error(), werr)
	}
	res.Outcome = Migrated
	if n := hardLinks(snap.Info); n > 1 {
		res.Warning = fmt.Sprintf("%s had %d other hard links, which still hold the key; delete them", res.Target, n-1)
		if n == 2 {
			res.Warning = res.Target + " had another hard link, which still holds the key; delete it"
		}
	}
	if old != "" && old != c.APIKey {
		res.PreviousKeyHint = apikey.Hint(old)
	}
	if merr != nil {
		return res, fmt.Errorf("moved %s into the keychain and out of %s, but recording its metadata failed: %w", res.KeyHint, res.Path, merr)
	}
	return res, nil
}

func left(res MigrationResult, p MigrationProblem, reason string, cause error) (MigrationResult, error) {
	res.Outcome, res.Problem, res.Reason = LeftInPlace, p, reason
	if !p.Transient() {
		res.KeyHint = ""
	}
	return res, &MigrationError{Result: res, Err: cause}
}

// notRead is the result for a config.json that was not read at all
// (untrusted, not a regular file, too large, unreadable): whether it holds
// a key is unknown, so the sentence says what the file is instead.
func notRead(res MigrationResult, err error) (MigrationResult, error) {
	p := ProblemUnreadable
	reason := "it cannot be read: " + err.Error()
	switch {
	case errors.Is(err, trust.ErrUntrusted):
		p, reason = ProblemUntrusted, strings.TrimPrefix(err.Error(), trust.ErrUntrusted.Error()+": ")
	case errors.Is(err, safefile.ErrNotRegular):
		p, reason = ProblemNotRegular, strings.TrimPrefix(err.Error(), safefile.ErrNotRegular.Error()+": ")
	case errors.Is(err, safefile.ErrTooLarge):
		p, reason = ProblemTooLarge, strings.TrimPrefix(err.Error(), safefile.ErrTooLarge.Error()+": ")
	case errors.Is(err, fs.ErrPermission):
		reason = "it cannot be read (permission denied); make it readable (chmod 600), then run torale-cred import"
	}
	return left(res, p, reason, err)
}
