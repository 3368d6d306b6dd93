package toraleapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/torale-ai/torale-cred/credstore/apikey"
)

// KeyRecord is the server's record of one API key, never the key itself.
// It is read from either shape: the docs' {id, key_prefix, name,
// created_at, last_used_at, state} and the live server's {id, user_id,
// key_prefix, name, created_at, last_used_at, is_active}.
type KeyRecord struct {
	ID         string
	UserID     string // live shape only
	KeyPrefix  string // "sk_...xyz89" (docs) or key[:15]+"..." (live)
	Name       string
	CreatedAt  *time.Time
	LastUsedAt *time.Time
	Active     bool
}

// wireKey is the union of both shapes' fields.
type wireKey struct {
	ID         json.RawMessage `json:"id"` // a UUID string; tolerate a number
	UserID     json.RawMessage `json:"user_id"`
	KeyPrefix  string          `json:"key_prefix"`
	Name       string          `json:"name"`
	CreatedAt  *string         `json:"created_at"`
	LastUsedAt *string         `json:"last_used_at"`
	IsActive   *bool           `json:"is_active"`
	State      *string         `json:"state"`
}

func (w wireKey) record() KeyRecord {
	r := KeyRecord{ID: rawString(w.ID), UserID: rawString(w.UserID), KeyPrefix: w.KeyPrefix, Name: w.Name,
		CreatedAt: parseTime(w.CreatedAt), LastUsedAt: parseTime(w.LastUsedAt), Active: true}
	switch {
	case w.IsActive != nil:
		r.Active = *w.IsActive
	case w.State != nil:
		r.Active = strings.EqualFold(*w.State, "active")
	}
	return r
}

// rawString is a JSON string's value, or a number's text; "" otherwise.
func rawString(m json.RawMessage) string {
	m = bytes.TrimSpace(m)
	if len(m) == 0 || string(m) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(m, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(m, &n) == nil {
		return n.String()
	}
	return ""
}

// parseTime reads the server's timestamps: RFC 3339, or Python's isoformat
// without a zone (taken as UTC).
func parseTime(s *string) *time.Time {
	if s == nil || *s == "" {
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00"} {
		if t, err := time.Parse(layout, *s); err == nil {
			t = t.UTC()
			return &t
		}
	}
	return nil
}

// NewKey is the answer to POST /auth/api-keys: the key (shown once) and its
// record.
type NewKey struct {
	Key    string
	Record KeyRecord
}

// ListKeys is GET /auth/api-keys. It accepts a bare array (both documented
// and live) and, defensively, an object wrapping one under "keys",
// "api_keys", "items" or "data".
func (c *Client) ListKeys(ctx context.Context) ([]KeyRecord, error) {
	var raw json.RawMessage
	if err := c.Do(ctx, http.MethodGet, "/auth/api-keys", nil, &raw); err != nil {
		return nil, err
	}
	return decodeKeyList(raw)
}

// decodeKeyList reads a listing in either shape.
func decodeKeyList(raw []byte) ([]KeyRecord, error) {
	var list []wireKey
	if err := json.Unmarshal(raw, &list); err != nil {
		var wrapped map[string]json.RawMessage
		if json.Unmarshal(raw, &wrapped) != nil {
			return nil, fmt.Errorf("the Torale API answered GET /auth/api-keys with neither a list nor an object")
		}
		found := false
		for _, k := range []string{"keys", "api_keys", "items", "data"} {
			if v, ok := wrapped[k]; ok && json.Unmarshal(v, &list) == nil {
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("the Torale API answered GET /auth/api-keys with an object holding no list of keys")
		}
	}
	out := make([]KeyRecord, 0, len(list))
	for _, w := range list {
		out = append(out, w.record())
	}
	return out, nil
}

// CreateKey is POST /auth/api-keys {"name"}. It reads the docs' flat
// {id, key, key_prefix, name, created_at} and the live {"key", "key_info":
// {…}}. The answer must hold a well-formed key; the error never shows it.
// Record.ID may be empty when the server leaves it out; FindKey on a later
// listing recovers it.
// Errors match ErrOneActiveKey (the live server's rule), ErrRateLimited,
// ErrUnauthorized, ErrServer or ErrUnreachable.
func (c *Client) CreateKey(ctx context.Context, name string) (NewKey, error) {
	var raw json.RawMessage
	if err := c.Do(ctx, http.MethodPost, "/auth/api-keys", map[string]string{"name": name}, &raw); err != nil {
		return NewKey{}, err
	}
	return decodeNewKey(raw)
}

// decodeNewKey reads a creation answer in either shape.
func decodeNewKey(raw []byte) (NewKey, error) {
	var ans struct {
		wireKey
		Key     string   `json:"key"`
		KeyInfo *wireKey `json:"key_info"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil {
		return NewKey{}, fmt.Errorf("the Torale API answered POST /auth/api-keys with unexpected content: %w", err)
	}
	rec := ans.wireKey
	if ans.KeyInfo != nil {
		rec = *ans.KeyInfo
	}
	nk := NewKey{Key: ans.Key, Record: rec.record()}
	if _, err := apikey.Parse(nk.Key); err != nil {
		return NewKey{}, fmt.Errorf("the Torale API's new key is not usable: %w", err)
	}
	return nk, nil
}

// RevokeKey is DELETE /auth/api-keys/{id}. Both {"message": …} (docs) and
// {"status": "revoked"} (live) mean success, as does any 2xx.
func (c *Client) RevokeKey(ctx context.Context, id string) error {
	if id == "" {
		return fmt.Errorf("no key id to revoke")
	}
	return c.Do(ctx, http.MethodDelete, "/auth/api-keys/"+url.PathEscape(id), nil, nil)
}

// FindKey returns the record whose key_prefix names key, in either form
// (apikey.MatchesServerPrefix). Active records win over revoked ones,
// then the newest.
func FindKey(records []KeyRecord, key string) (KeyRecord, bool) {
	var best KeyRecord
	found := false
	for _, r := range records {
		if !apikey.MatchesServerPrefix(key, r.KeyPrefix) {
			continue
		}
		if !found || better(r, best) {
			best, found = r, true
		}
	}
	return best, found
}

func better(a, b KeyRecord) bool {
	if a.Active != b.Active {
		return a.Active
	}
	if a.CreatedAt != nil && b.CreatedAt != nil {
		return a.CreatedAt.After(*b.CreatedAt)
	}
	return a.CreatedAt != nil
}
