package credstore

import (
	"context"

	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/internal/audit"
	"github.com/torale-ai/torale-cred/internal/peer"
)

// handOut is the one place a key leaves torale-cred, by any door: the
// policy decides, the trail records (a refusal too), and a refused look-up
// gets no key. No door means one of torale-cred's own checks: it learns
// the key's hint, never the key. Only keys the caller gave itself (flag,
// environment) pass unjudged, as nothing of ours leaves with them.
func (s *Store) handOut(ctx context.Context, v *view, r *Resolution) error {
	if r.Key == "" {
		return nil
	}
	r.KeyHint = apikey.Hint(r.Key)
	door := DoorFrom(ctx)
	if door == "" {
		r.Key = ""
		return nil
	}
	if r.KeySource != FromKeychain && r.KeySource != FromConfig {
		return nil
	}
	if s.KeysJudged && r.KeySource == FromKeychain {
		return nil // the daemon judged and recorded it (a client answering itself)
	}
	if err := s.judge(ctx, v, r.Profile, door, r.KeyHint, ""); err != nil {
		*r = Resolution{}
		return err
	}
	return nil
}

// judge applies profile's policy to the caller of ctx and records the
// outcome in the trail: a key handed out (action ""), stored or removed.
func (s *Store) judge(ctx context.Context, v *view, profile, door, hint, action string) error {
	c := Caller(ctx, door)
	err := s.decide(ctx, v, profile, door, c)
	var version int
	if action == "" {
		version = v.version(profile)
	}
	s.record(ctx, profile, door, hint, action, version, c, err)
	return err
}

// Caller is who a request through door is judged as: the socket's peer
// or this process, and when that is torale-cred's own program, the
// program behind it (peer.Behind), with via naming the door.
func Caller(ctx context.Context, door string) *peer.Caller {
	c := peer.From(ctx)
	if c.Via == "" && c.Ours() && door != DoorRemind { // the daemon's own look-up is its own
		c = (*peer.Identifier)(nil).Behind(c, door)
	}
	return c
}

// record writes one trail line: version is the store's version of the key
// handed out (Vault KV v2), 0 for the keychain.
func (s *Store) record(ctx context.Context, profile, door, hint, action string, version int, c *peer.Caller, err error) {
	if s.Audit == nil {
		return
	}
	res := audit.ResultOK
	if err != nil {
		res = audit.ResultDenied
	}
	dest := ""
	if u := RemoteFrom(ctx); u != nil {
		dest = u.Dest
	}
	s.Audit(audit.Event{Time: s.now(), Profile: profile, KeyHint: hint, Door: door, Action: action, Route: RouteFrom(ctx), Remote: dest, Version: version, Result: res, Caller: c})
}
