package credstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/torale-ai/torale-cred/internal/toraleconfig"
)

// endpointContent is what a migration writes in place of config.json's
// key while the local endpoint is on: the profile's local token as
// api_key and the endpoint's URL as api_url, every other byte kept, with
// that URL. endpointURL is "" when the endpoint is off (the key is then
// only removed).
func (s *Store) endpointContent(ctx context.Context, profile string, raw []byte) (out []byte, endpointURL string, err error) {
	ep, err := s.EndpointState()
	if err != nil || !ep.Active() || s.NoEndpoint {
		return nil, "", nil // no endpoint known: the old behaviour
	}
	tok, err := s.LocalToken(ctx, profile)
	if err != nil {
		return nil, "", err
	}
	out, err = toraleconfig.WithEndpoint(raw, tok, ep.URL())
	if err != nil {
		return nil, "", err
	}
	if after, perr := toraleconfig.Parse(out); perr != nil || after.APIKey != tok || !ep.Names(after.APIURL) {
		return nil, "", fmt.Errorf("%w: writing the local token would not leave a clean file", toraleconfig.ErrMalformed)
	}
	return out, ep.URL(), nil
}

// rememberConfigURL keeps config.json's api_url, about to be replaced by
// the endpoint's, as config.json's own URL tier. A file already naming
// the endpoint keeps the URL remembered before.
func (s *Store) rememberConfigURL(apiURL string) error {
	return s.UpdateState(func(st *State) error {
		if st.Endpoint == nil {
			st.Endpoint = &Endpoint{}
		}
		if !st.Endpoint.Names(apiURL) {
			st.Endpoint.ConfigAPIURL = apiURL
		}
		return nil
	})
}

// keepEndpoint is a migration of a config.json that holds a local token,
// not a key: nothing moves. When the token is the profile's and the file
// names another URL than the endpoint's (the user wrote one, or removed
// it), that URL becomes config.json's own tier and the file names the
// endpoint again, so the SDK keeps coming through it. With the endpoint
// off, the token and the endpoint's URL leave the file (config.json's own
// URL back in its place): config.json is left without a key, as before.
func (s *Store) keepEndpoint(res MigrationResult, snap toraleconfig.Snapshot) (MigrationResult, error) {
	c := snap.Config
	res.Outcome, res.Reason = NothingToMigrate, res.Path+" holds torale-cred's local token, not a key"
	ep, err := s.EndpointState()
	if err != nil {
		return res, nil
	}
	if p, ok := ep.ProfileOf(c.APIKey); !ok || p != res.Profile {
		res.Reason = res.Path + " holds a local token that is not profile " + res.Profile + "'s current one; run torale-cred endpoint reissue"
		return res, nil
	}
	if !ep.Active() || s.NoEndpoint {
		u := c.APIURL
		if ep.Names(u) || ep.NamesFormer(u) {
			u = ep.ConfigAPIURL
		}
		out, err := toraleconfig.WithoutEndpoint(snap.Raw, u)
		if err != nil {
			return left(res, ProblemMalformed, err.Error(), err)
		}
		if err := toraleconfig.Rewrite(snap, out); err != nil {
			if errors.Is(err, toraleconfig.ErrChanged) {
				return res, err
			}
			return left(res, ProblemWrite, "taking the local token out of config.json failed: "+err.Error(), err)
		}
		res.APIURL, res.Reason = u, res.Path+" no longer names the local endpoint, which is off"
		return res, nil
	}
	if ep.Names(c.APIURL) {
		return res, nil
	}
	if ep.NamesFormer(c.APIURL) {
		// The endpoint moved: config.json follows it, its real URL unchanged.
		out, err := toraleconfig.WithEndpoint(snap.Raw, c.APIKey, ep.URL())
		if err != nil {
			return left(res, ProblemMalformed, err.Error(), err)
		}
		if err := toraleconfig.Rewrite(snap, out); err != nil {
			if errors.Is(err, toraleconfig.ErrChanged) {
				return res, err
			}
			return left(res, ProblemWrite, "pointing config.json at the local endpoint's new port failed: "+err.Error(), err)
		}
		res.Endpoint = ep.URL()
		res.Reason = res.Path + " now names the local endpoint's new port"
		return res, nil
	}
	if c.APIURL != "" {
		if err := CheckURL(c.APIURL, "config.json's api_url"); err != nil {
			return left(res, ProblemMalformed, err.Error(), err)
		}
	}
	out, err := toraleconfig.WithEndpoint(snap.Raw, c.APIKey, ep.URL())
	if err != nil {
		return left(res, ProblemMalformed, err.Error(), err)
	}
	if err := s.rememberConfigURL(c.APIURL); err != nil {
		return left(res, ProblemStore, "recording config.json's new api_url failed: "+err.Error(), err)
	}
	if err := toraleconfig.Rewrite(snap, out); err != nil {
		if errors.Is(err, toraleconfig.ErrChanged) {
			return res, err
		}
		return left(res, ProblemWrite, "pointing config.json back at the local endpoint failed: "+err.Error(), err)
	}
	res.APIURL, res.Endpoint = c.APIURL, ep.URL()
	res.Reason = res.Path + " names a new API URL; the local endpoint now forwards there"
	return res, nil
}

// rewriteConfigToken puts tok in place of the local token config.json
// holds (a reissue); false when it holds none.
func (s *Store) rewriteConfigToken(tok string) (bool, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	for range maxMigrationAttempts {
		snap, err := toraleconfig.Load(s.ConfigPath)
		if err != nil || !snap.Exists || !IsLocalToken(snap.Config.APIKey) {
			return false, nil
		}
		out, err := toraleconfig.WithToken(snap.Raw, tok)
		if err != nil {
			return false, err
		}
		err = toraleconfig.Rewrite(snap, out)
		if !errors.Is(err, toraleconfig.ErrChanged) {
			return err == nil, err
		}
	}
	return false, fmt.Errorf("%s kept changing while torale-cred wrote the new local token; run the command again", s.ConfigPath)
}
