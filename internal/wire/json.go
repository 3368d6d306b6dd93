package wire

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// The look-up's JSON, written and read without reflection. encoding/json
// builds an encoder for a type the first time it meets it, which in a
// process that makes one look-up is most of the look-up's own cost; the
// lean fronts link jsontext (a tokenizer) and no encoding/json at all.
// Request and GitRequest marshal here for every program, so there is one
// encoder of each and nothing to drift; the decoders read only what a
// front needs and say "not plain" at the first doubt, leaving the answer
// to the full CLI's encoding/json. json_test.go holds both to
// encoding/json, by fuzzing.

// MarshalJSON is Request as encoding/json writes its tags: every field
// with omitempty left out when empty, env left out when zero. Invalid
// UTF-8 becomes U+FFFD, as encoding/json does.
func (r Request) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 256)
	b = append(b, '{')
	b = member(b, "profile", r.Profile)
	b = member(b, "api_key", r.FlagKey)
	b = member(b, "api_url", r.FlagURL)
	if r.Env != (Env{}) {
		b = r.Env.appendObject(open(b, "env"))
	}
	if r.RotateAfterSeconds != 0 {
		b = strconv.AppendInt(open(b, "rotate_after_seconds"), r.RotateAfterSeconds, 10)
	}
	if r.URLOnly {
		b = append(open(b, "url_only"), "true"...)
	}
	return append(b, '}'), nil
}

// MarshalJSON is GitRequest as encoding/json writes its tags.
func (g GitRequest) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 256+len(g.Input))
	b = append(b, '{')
	b = quote(open(b, "operation"), g.Operation)
	b = quote(open(b, "input"), g.Input)
	b = member(b, "profile", g.Profile)
	if g.Env != (Env{}) {
		b = g.Env.appendObject(open(b, "env"))
	}
	return append(b, '}'), nil
}

// appendObject is e as a JSON object of the variables that are set.
func (e Env) appendObject(b []byte) []byte {
	b = append(b, '{')
	for _, v := range [...]struct{ name, value string }{
		{"TORALE_API_KEY", e.APIKey}, {"TORALE_API_URL", e.APIURL}, {"TORALE_DEV", e.Dev},
		{"TORALE_NOAUTH", e.NoAuth}, {"TORALE_PROFILE", e.Profile}, {"TORALE_CONFIG", e.Config},
		{"TORALE_CRED_STATE_DIR", e.StateDir},
	} {
		if v.value != "" {
			b = quote(open(b, v.name), v.value)
		}
	}
	return append(b, '}')
}

// member appends "name":"value" when value is not empty (omitempty).
func member(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	return quote(open(b, name), value)
}

// open appends a member's name and colon, after a comma unless it is the
// object's first member (no value ends in '{', so the byte before says).
func open(b []byte, name string) []byte {
	if b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	return append(append(append(b, '"'), name...), `":`...)
}

// quote appends s as a JSON string; invalid UTF-8 is replaced, as
// encoding/json replaces it (AppendQuote's error says only that).
func quote(b []byte, s string) []byte {
	b, _ = jsontext.AppendQuote(b, s)
	return b
}

// errNotPlain: an answer a front leaves to the full CLI.
var errNotPlain = errors.New("not a plain answer")

// PlainKey is the key in a /v1/resolve answer (a Resolution) that has
// nothing to say besides it: a key, no keychain problem, no rotation due.
// ok is false for any other answer, and for any body encoding/json would
// not decode into a Resolution exactly as read here (a wrong type, a name
// in another case, a name twice, trailing data), so that a front prints a
// key only when the full CLI would print that key and nothing else.
func PlainKey(body []byte) (key string, ok bool) {
	var problem string
	due := false
	err := readObject(body, func(d *jsontext.Decoder, name string) error {
		switch name {
		case "api_key":
			return readString(d, &key)
		case "keychain_problem":
			return readString(d, &problem)
		case "profile", "api_key_source", "api_url", "api_url_source":
			return readString(d, nil)
		case "noauth":
			return readBool(d, nil)
		case "rotation":
			return readRotation(d, &due)
		}
		return skipOther(d, name, "api_key", "keychain_problem", "profile", "api_key_source", "api_url", "api_url_source", "noauth", "rotation")
	})
	if err != nil || key == "" || problem != "" || due {
		return "", false
	}
	return key, true
}

// GitOutput is the output of a POST /v1/git answer (a GitAnswer), ok false
// for a body encoding/json would not decode exactly so.
func GitOutput(body []byte) (out string, ok bool) {
	err := readObject(body, func(d *jsontext.Decoder, name string) error {
		if name == "output" {
			return readString(d, &out)
		}
		return skipOther(d, name, "output")
	})
	return out, err == nil
}

// readRotation reads a Rotation (or null) as encoding/json would into
// *Rotation, keeping only Due.
func readRotation(d *jsontext.Decoder, due *bool) error {
	if d.PeekKind() == 'n' {
		_, err := d.ReadToken()
		return err
	}
	return readMembers(d, func(d *jsontext.Decoder, name string) error {
		switch name {
		case "due":
			return readBool(d, due)
		case "age_days":
			v, err := d.ReadValue()
			if err != nil {
				return err
			}
			if string(v) == "null" {
				return nil
			}
			_, err = strconv.ParseInt(string(v), 10, strconv.IntSize)
			return err
		case "due_at":
			v, err := d.ReadValue()
			if err != nil {
				return err
			}
			var t time.Time
			return t.UnmarshalJSON(v)
		}
		return skipOther(d, name, "due", "age_days", "due_at")
	})
}

// readObject reads body as one JSON object and nothing after it.
func readObject(body []byte, field func(*jsontext.Decoder, string) error) error {
	d := jsontext.NewDecoder(bytes.NewReader(body))
	if d.PeekKind() != '{' {
		return errNotPlain
	}
	if err := readMembers(d, field); err != nil {
		return err
	}
	if _, err := d.ReadToken(); err != io.EOF {
		return errNotPlain
	}
	return nil
}

// readMembers reads one object, handing each member's name to field,
// which reads its value. The decoder refuses a name given twice.
func readMembers(d *jsontext.Decoder, field func(*jsontext.Decoder, string) error) error {
	if t, err := d.ReadToken(); err != nil || t.Kind() != '{' {
		return errNotPlain
	}
	for d.PeekKind() != '}' {
		t, err := d.ReadToken()
		if err != nil {
			return err
		}
		if err := field(d, t.String()); err != nil {
			return err
		}
	}
	_, err := d.ReadToken()
	return err
}

// skipOther skips an unknown member's value, as encoding/json ignores it,
// unless its name is one of known in another case: encoding/json would
// take it for that field, so the answer is not read here.
func skipOther(d *jsontext.Decoder, name string, known ...string) error {
	for _, k := range known {
		if strings.EqualFold(name, k) {
			return errNotPlain
		}
	}
	return d.SkipValue()
}

// readKind reads a value whose kind is one of kinds, or null (set false,
// as encoding/json leaves a field alone on null); any other kind is not
// what encoding/json would decode into the field.
func readKind(d *jsontext.Decoder, kinds string) (t jsontext.Token, set bool, err error) {
	if t, err = d.ReadToken(); err != nil || t.Kind() == 'n' {
		return t, false, err
	}
	if !strings.ContainsRune(kinds, rune(t.Kind())) {
		return t, false, errNotPlain
	}
	return t, true, nil
}

// readString reads a string or null into s (nil: checked only).
func readString(d *jsontext.Decoder, s *string) error {
	t, set, err := readKind(d, `"`)
	if set && s != nil {
		*s = t.String()
	}
	return err
}

// readBool reads a boolean or null into v (nil: checked only).
func readBool(d *jsontext.Decoder, v *bool) error {
	t, set, err := readKind(d, "tf")
	if set && v != nil {
		*v = t.Bool()
	}
	return err
}
