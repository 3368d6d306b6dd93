// Package toraleconfig reads the official Torale CLI's plaintext
// ~/.torale/config.json and edits its api_key and api_url fields, leaving
// every other byte as it was. Load is the one reader of the file: every
// other package reads it through Load. Rewrite and Create are its one
// writer: they never write over a file that changed since it was read.
package toraleconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// MaxSize is the largest config.json read (SPEC: 64 KiB); a bigger one is
// left alone.
const MaxSize = 64 << 10

// ErrMalformed is wrapped by every reason the file cannot be understood.
var ErrMalformed = errors.New("config.json cannot be read safely")

// Config is what torale-cred cares about in config.json.
type Config struct {
	// HasKey: an api_key field is present (whatever its type).
	HasKey bool
	// APIKey is api_key's value when it is a string.
	APIKey string
	// APIURL is api_url's value when it is a non-empty string.
	APIURL string
}

// Parse checks raw is a JSON object the official tools would read and picks
// out api_key and api_url. It refuses a BOM, a non-object, duplicate
// api_key fields and a non-string api_key, since rewriting any of those
// could lose what the user meant.
func Parse(raw []byte) (Config, error) {
	var c Config
	if bytes.HasPrefix(raw, []byte("\xef\xbb\xbf")) {
		return c, fmt.Errorf("%w: it starts with a byte-order mark", ErrMalformed)
	}
	if !utf8.Valid(raw) {
		return c, fmt.Errorf("%w: it is not UTF-8 text", ErrMalformed)
	}
	var top map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&top); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return c, fmt.Errorf("%w: its top level is not a JSON object", ErrMalformed)
		}
		return c, fmt.Errorf("%w: it is not valid JSON (%s); it may be half-written", ErrMalformed, syntaxReason(err))
	}
	if top == nil {
		return c, fmt.Errorf("%w: its top level is not a JSON object", ErrMalformed)
	}
	if _, err := dec.Token(); err != io.EOF {
		return c, fmt.Errorf("%w: it holds more than one JSON value", ErrMalformed)
	}
	keys := 0
	gjson.ParseBytes(raw).ForEach(func(k, _ gjson.Result) bool {
		if k.String() == "api_key" {
			keys++
		}
		return true
	})
	if keys > 1 {
		return c, fmt.Errorf("%w: it has %d api_key fields", ErrMalformed, keys)
	}
	if v, ok := top["api_key"]; ok {
		c.HasKey = true
		if err := json.Unmarshal(v, &c.APIKey); err != nil {
			return c, fmt.Errorf("%w: its api_key is not a string", ErrMalformed)
		}
	}
	if v, ok := top["api_url"]; ok {
		// A non-string api_url is ignored, as the SDK would fail on it anyway.
		_ = json.Unmarshal(v, &c.APIURL)
	}
	return c, nil
}

// syntaxReason describes a JSON error without quoting the input, which may
// hold a key.
func syntaxReason(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "it ends early"
	}
	return "unexpected content"
}

// WithoutKey returns raw with the api_key field removed and every other
// byte kept, so key order, indentation and unknown fields survive.
func WithoutKey(raw []byte) ([]byte, error) {
	out, err := sjson.DeleteBytes(raw, "api_key")
	if err != nil {
		return nil, fmt.Errorf("removing api_key: %w", err)
	}
	if _, err := Parse(out); err != nil {
		return nil, fmt.Errorf("removing api_key would leave a broken file: %w", err)
	}
	return out, nil
}

// WithEndpoint returns raw with api_key set to a local token and api_url
// to the local endpoint's URL, every other byte kept (torale-cred's local
// endpoint: the SDK reads them and never holds the key).
func WithEndpoint(raw []byte, token, url string) ([]byte, error) {
	out, err := sjson.SetBytes(raw, "api_key", token)
	if err == nil {
		out, err = sjson.SetBytes(out, "api_url", url)
	}
	if err != nil {
		return nil, fmt.Errorf("writing the local endpoint: %w", err)
	}
	if _, err := Parse(out); err != nil {
		return nil, fmt.Errorf("writing the local endpoint would leave a broken file: %w", err)
	}
	return out, nil
}

// WithToken returns raw with api_key set to token, every other byte kept.
func WithToken(raw []byte, token string) ([]byte, error) {
	out, err := sjson.SetBytes(raw, "api_key", token)
	if err != nil {
		return nil, fmt.Errorf("writing the local token: %w", err)
	}
	if _, err := Parse(out); err != nil {
		return nil, fmt.Errorf("writing the local token would leave a broken file: %w", err)
	}
	return out, nil
}

// WithoutEndpoint undoes WithEndpoint: api_key removed, api_url set to
// url (removed when url is ""), every other byte kept.
func WithoutEndpoint(raw []byte, url string) ([]byte, error) {
	out, err := sjson.DeleteBytes(raw, "api_key")
	if err == nil && url != "" {
		out, err = sjson.SetBytes(out, "api_url", url)
	} else if err == nil {
		out, err = sjson.DeleteBytes(out, "api_url")
	}
	if err != nil {
		return nil, fmt.Errorf("taking the local endpoint out: %w", err)
	}
	if _, err := Parse(out); err != nil {
		return nil, fmt.Errorf("taking the local endpoint out would leave a broken file: %w", err)
	}
	return out, nil
}
