package credstore

import (
	"errors"
	"fmt"

	"github.com/tidwall/sjson"

	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/internal/toraleconfig"
)

// RestoreResult says what RestoreConfig wrote. Never a key: its hint.
type RestoreResult struct {
	Path    string `json:"path"`
	Profile string `json:"profile"`
	KeyHint string `json:"key_hint"`
	// APIURL is config.json's api_url now ("" when it names none).
	APIURL string `json:"api_url,omitempty"`
	// Already: config.json held that key already; nothing was written.
	Already bool `json:"already,omitempty"`
}

// ErrConfigHoldsKey: config.json holds another real key, which restore
// will not overwrite.
var ErrConfigHoldsKey = errors.New("config.json holds another key")

// RestoreConfig puts r's key (the profile's stored key, handed out
// through the door restore, so policy and trail have judged it) back into
// config.json as api_key, and api_url back to the URL it stands for: the
// URL config.json named before it named the endpoint, else r's URL when
// that is not the default. Every other field is kept; the write is atomic
// and only replaces what was read. A config.json holding another real key
// is refused (ErrConfigHoldsKey); a missing one is created (0600, its
// directory 0700). The keychain keeps the key.
func (s *Store) RestoreConfig(r Resolution) (RestoreResult, error) {
	res := RestoreResult{Path: s.ConfigPath, Profile: r.Profile, KeyHint: apikey.Hint(r.Key)}
	if !apikey.Valid(r.Key) {
		return res, fmt.Errorf("%w: the stored key of profile %q is not a well-formed key", apikey.ErrBadKey, r.Profile)
	}
	if s.ConfigPath == "" {
		return res, errors.New("no config.json path configured")
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	ep, _ := s.EndpointState()
	for range maxMigrationAttempts {
		snap, err := toraleconfig.Load(s.ConfigPath)
		if err != nil && !errors.Is(err, toraleconfig.ErrMalformed) {
			return res, fmt.Errorf("reading %s: %w", s.ConfigPath, err)
		}
		if err != nil && !snap.Empty() {
			return res, fmt.Errorf("%s cannot be read as JSON, so nothing was written: %w; fix or move it, then run restore again", s.ConfigPath, err)
		}
		c := snap.Config
		switch {
		case c.APIKey == r.Key:
			res.Already, res.APIURL = true, c.APIURL
			return res, nil
		case c.APIKey != "" && !IsLocalToken(c.APIKey):
			return res, fmt.Errorf("%w (%s), so nothing was written: move it first (torale-cred import), or edit the file by hand", ErrConfigHoldsKey, safeHint(c.APIKey))
		}
		raw := snap.Raw
		if !snap.Exists || snap.Empty() {
			raw = []byte("{}\n")
		}
		url := c.APIURL
		if ep.Names(url) {
			url = ep.ConfigAPIURL
		}
		if url == "" && r.URL != "" && r.URL != DefaultAPIURL {
			url = r.URL
		}
		out, err := sjson.SetBytes(raw, "api_key", r.Key)
		if err == nil && url != "" {
			out, err = sjson.SetBytes(out, "api_url", url)
		} else if err == nil {
			out, err = sjson.DeleteBytes(out, "api_url")
		}
		if err != nil {
			return res, fmt.Errorf("writing the key into %s: %w", s.ConfigPath, err)
		}
		if after, perr := toraleconfig.Parse(out); perr != nil || after.APIKey != r.Key {
			return res, fmt.Errorf("%w: writing the key would not leave a clean file", toraleconfig.ErrMalformed)
		}
		res.APIURL = url
		if !snap.Exists {
			err = toraleconfig.Create(s.ConfigPath, out)
		} else {
			err = toraleconfig.Rewrite(snap, out)
		}
		if errors.Is(err, toraleconfig.ErrChanged) {
			continue
		}
		if err != nil {
			return res, err
		}
		s.files().Reload()
		return res, nil
	}
	return res, fmt.Errorf("%s kept changing while torale-cred wrote it; run restore again", s.ConfigPath)
}

// safeHint is a value from config.json shown as a key hint only when it
// is a key, else its first characters.
func safeHint(v string) string {
	if apikey.Valid(v) {
		return apikey.Hint(v)
	}
	return apikey.KeyPrefix(v) + "…"
}
