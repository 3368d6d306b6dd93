// Package audit keeps the trail of every key torale-cred hands out
// (SPEC: "Audit trail"): audit.jsonl in the state directory, one JSON
// object a line, never a key, bounded in size. The daemon writes it off the
// look-up's path (Trail); a command that read the keychain itself appends
// its own line (Append). Read and Summarize serve `torale-cred audit` and
// rotate's "who used this key".
package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/torale-ai/torale-cred/internal/peer"
)

// FileName is the trail in the state directory; the rotated older half is
// FileName + ".1".
const FileName = "audit.jsonl"

// DefaultMaxBytes bounds the current file: past it, it becomes the ".1"
// file (replacing the older one), so at most twice this is kept.
const DefaultMaxBytes = 8 << 20

// Results of a hand-out.
const (
	ResultOK     = "ok"
	ResultDenied = "denied"
)

// Actions of a key written through a door.
const (
	ActionStore  = "store"
	ActionRemove = "remove"
)

// Event is one line: a key that left torale-cred, or a look-up a policy
// refused. KeyHint is the sk_...xyz89 form; no field ever holds a key.
type Event struct {
	Time    time.Time `json:"time"`
	Profile string    `json:"profile"`
	KeyHint string    `json:"key_hint"`
	Door    string    `json:"door"`
	// Action is "store" or "remove" for a key written through a door
	// (PUT, DELETE, login, logout); absent for a key handed out.
	Action string `json:"action,omitempty"`
	// Route is the API request the key went into ("GET /auth/me"), for
	// the local endpoint's hand-outs.
	Route string `json:"route,omitempty"`
	// Remote is the host a forwarded use came from (torale-cred ssh), as
	// the local ssh process's own arguments name it; never anything the
	// remote host said.
	Remote string `json:"remote,omitempty"`
	// Version is the store's version of the key handed out (a Vault KV v2
	// secret's), absent for the keychain.
	Version int          `json:"version,omitempty"`
	Result  string       `json:"result"`
	Caller  *peer.Caller `json:"caller"`
}

// HandedOut: a program received the key (not a refusal, not a write),
// what first-use alerts are about.
func (e *Event) HandedOut() bool { return e.Result == ResultOK && e.Action == "" && e.Caller != nil }

// appendLine encodes e as one line onto b. callerJSON is the caller's
// encoding, made once per caller (a connection's identity does not change).
func appendLine(b []byte, e *Event, callerJSON []byte) []byte {
	b = append(b, `{"time":"`...)
	b = e.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","profile":`...)
	b = appendString(b, e.Profile)
	b = append(b, `,"key_hint":`...)
	b = appendString(b, e.KeyHint)
	b = append(b, `,"door":`...)
	b = appendString(b, e.Door)
	if e.Action != "" {
		b = append(b, `,"action":`...)
		b = appendString(b, e.Action)
	}
	if e.Route != "" {
		b = append(b, `,"route":`...)
		b = appendString(b, e.Route)
	}
	if e.Remote != "" {
		b = append(b, `,"remote":`...)
		b = appendString(b, e.Remote)
	}
	if e.Version > 0 {
		b = append(b, `,"version":`...)
		b = strconv.AppendInt(b, int64(e.Version), 10)
	}
	b = append(b, `,"result":`...)
	b = appendString(b, e.Result)
	b = append(b, `,"caller":`...)
	b = append(b, callerJSON...)
	return append(b, "}\n"...)
}

// appendString appends s as a JSON string: as it is when plain printable
// ASCII (profile names, doors and hints are), else through encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// encodeCaller is the caller's JSON (json.Marshal: its strings come from
// /proc and may hold anything; the line must stay one valid JSON line).
func encodeCaller(c *peer.Caller) []byte {
	if c == nil {
		return []byte("null")
	}
	b, err := json.Marshal(c)
	if err != nil {
		return []byte("null")
	}
	return b
}

// ErrBadLine: a line of the trail that is not one whole event (a torn last
// line after a crash, or a file someone edited).
var ErrBadLine = errors.New("not an audit event")

// ParseLine decodes one line of the trail.
func ParseLine(line []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(line, &e); err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrBadLine, err)
	}
	if e.Time.IsZero() || e.Profile == "" || e.Door == "" || e.Result == "" {
		return Event{}, fmt.Errorf("%w: a field is missing", ErrBadLine)
	}
	return e, nil
}
