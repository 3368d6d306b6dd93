package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/internal/scan"
)

// fixFindings is scan --fix over what the scan found, in place: config.json
// by the migration, then the one key the profile takes from .env and rc
// files (stored through the Backend, which keeps a key it displaces), then
// each .env file holding that key rewritten to the local endpoint. A
// keychain failure stops it (exit 4); every other problem leaves that file
// as it was, with the reason as its advice.
func fixFindings(ctx context.Context, f *Factory, fds []scanFinding) (said []string, err error) {
	profile, err := f.profile()
	if err != nil {
		return nil, err
	}
	st, err := f.Store()
	if err != nil {
		return nil, err
	}
	be := f.Backend()

	// config.json: the migration's own code path, as import runs it.
	for i := range fds {
		fd := &fds[i]
		if fd.Kind != scan.KindConfig {
			continue
		}
		if !sameFile(fd.Path, st.ConfigPath) {
			fd.Status, fd.Advice = "left", fmt.Sprintf(msgFixNotWatchedConfig, shownPath(fd.Path))
			continue
		}
		migrate := st.MigrateConfig
		if f.profileChosen() {
			migrate = func(ctx context.Context) (credstore.MigrationResult, error) { return st.MigrateConfigTo(ctx, profile) }
		}
		res, err := migrate(ctx)
		switch {
		case err != nil && errors.Is(err, storeerr.ErrKeychain):
			return said, err
		case err != nil:
			fd.Status, fd.Advice = "left", err.Error()
		case res.Outcome == credstore.Migrated:
			markAll(fds, fd.Path, "moved", "")
		}
	}

	// The key .env and rc files give the profile: one per run, so no file
	// is pointed at another key than the one it held.
	var keys []string
	for _, fd := range fds {
		if (fd.Kind == scan.KindEnv || fd.Kind == scan.KindRC) && fd.Variable == scan.VarKey && !contains(keys, fd.Key()) {
			keys = append(keys, fd.Key())
		}
	}
	if len(keys) == 0 {
		return said, nil
	}
	before, err := be.Stored(credstore.WithDoor(ctx, ""), profile)
	if err != nil && !errors.Is(err, storeerr.ErrNotFound) {
		return said, err
	}
	chosen := ""
	if len(keys) == 1 {
		chosen = keys[0]
	} else {
		for _, k := range keys {
			if apikey.Hint(k) == before.KeyHint {
				chosen = k
			}
		}
	}
	stored := false
	store := func(ctx context.Context, key string) error {
		if stored {
			return nil
		}
		if _, err := be.Put(credstore.WithDoor(ctx, credstore.DoorScan), profile, key, credstore.PutOptions{Source: credstore.SourceConfig}); err != nil {
			return err
		}
		stored = true
		if before.KeyHint != "" && before.KeyHint != apikey.Hint(key) {
			said = append(said, fmt.Sprintf(msgFixReplaced, apikey.Hint(key), profile, before.KeyHint, credstore.KeptMessage(profile, before.KeyHint)))
		}
		return nil
	}

	fixer, why := endpointFixer(ctx, f, st, profile, before.URL)
	fixer.Store = store
	for i := range fds {
		fd := &fds[i]
		if fd.Status != "found" || fd.Variable != scan.VarKey || (fd.Kind != scan.KindEnv && fd.Kind != scan.KindRC) {
			continue
		}
		if fd.Key() != chosen {
			fd.Status, fd.Advice = "left", fmt.Sprintf(msgFixAnotherKey, profile, shownPath(fd.Path))
			continue
		}
		if fd.Kind == scan.KindRC {
			if err := store(ctx, fd.Key()); err != nil {
				return said, err
			}
			fd.Status, fd.Advice = "left", fmt.Sprintf(msgFixRCStored, fd.KeyHint, profile)
			continue
		}
		if why != "" {
			fd.Status, fd.Advice = "left", fmt.Sprintf(msgFixNotRewritten, why)
			continue
		}
		res, err := fixer.FixFile(ctx, fd.Path, fd.Key())
		switch {
		case err != nil && errors.Is(err, storeerr.ErrKeychain):
			return said, err
		case err != nil:
			fd.Status, fd.Advice = "left", strings.TrimSuffix(err.Error(), ".")
		default:
			markAll(fds, fd.Path, "fixed", res.Backup)
		}
	}
	return said, nil
}

// endpointFixer is the rewrite to profile's local token and the endpoint's
// URL; why says why .env files cannot be pointed at it ("" when they can).
func endpointFixer(ctx context.Context, f *Factory, st *credstore.Store, profile, realURL string) (scan.Fixer, string) {
	ep, err := st.EndpointState()
	switch {
	case err != nil:
		return scan.Fixer{}, fmt.Sprintf(msgFixStateUnreadable, err)
	case ep.Off:
		return scan.Fixer{}, msgFixEndpointOff
	case !ep.Active():
		return scan.Fixer{}, msgFixEndpointNotSetUp
	}
	tok, err := st.LocalToken(ctx, profile)
	if err != nil {
		return scan.Fixer{}, fmt.Sprintf(msgFixTokenUnreadable, err)
	}
	if realURL == "" {
		realURL = credstore.DefaultAPIURL
	}
	same := func(u string) bool {
		u = strings.TrimRight(strings.TrimSpace(u), "/")
		return u == strings.TrimRight(realURL, "/") || ep.Names(u)
	}
	return scan.Fixer{Token: tok, URL: ep.URL(), SameURL: same, Now: f.Now}, ""
}

// markAll gives every finding in path the status (a file holds one key on
// several lines, or config.json moved as a whole).
func markAll(fds []scanFinding, path, status, backup string) {
	for i := range fds {
		if fds[i].Path == path && fds[i].Status == "found" && (status == "moved" || fds[i].Variable == scan.VarKey) {
			fds[i].Status, fds[i].Advice, fds[i].Backup = status, "", backup
		}
	}
}

func sameFile(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
