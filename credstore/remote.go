package credstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/torale-ai/torale-cred/internal/notify"
	"github.com/torale-ai/torale-cred/internal/peer"
	"github.com/torale-ai/torale-cred/internal/safetext"
)

// A profile's remote rule (Policy.Remote): what its key may do for a
// request forwarded from another host through a session of torale-cred
// ssh (SPEC: "Remote sessions").
const (
	RemoteAllow   = "allow"   // every forwarded use, audited
	RemoteConfirm = "confirm" // asked once per ssh session on the desktop
	RemoteDeny    = "deny"    // no session may use this profile
)

// RemoteRule is the rule in force: the one set, else allow for an open
// profile and confirm for one that already guards its key (allow or
// confirm): a profile that asks before /usr/bin/python3 gets its key must
// not hand it to anything on another host without asking.
func (p Policy) RemoteRule() string {
	if p.Remote != "" {
		return p.Remote
	}
	if p.Mode == PolicyOpen || p.Mode == "" {
		return RemoteAllow
	}
	return RemoteConfirm
}

func checkRemoteRule(r string) error {
	switch r {
	case "", RemoteAllow, RemoteConfirm, RemoteDeny:
		return nil
	}
	return fmt.Errorf("%w: the remote rule is allow, confirm or deny, not \"%s\"", ErrBadRequest, safetext.Text(r, 20))
}

// RemoteUse is one remote session as the hand-out point sees it: where
// its requests come from (the destination the local ssh process's own
// arguments name) and the answers the user gave for it, so that a confirm
// rule asks once per session and profile, not once per request.
type RemoteUse struct {
	// Session is the session's id (never its token).
	Session string
	// Dest is the destination as ssh's arguments name it (user@host:port).
	Dest string

	mu      sync.Mutex
	answers map[string]string // profile -> answerOnce (this session) or answerDeny
}

func (u *RemoteUse) answer(profile string) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.answers[profile]
}

func (u *RemoteUse) remember(profile, a string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.answers == nil {
		u.answers = map[string]string{}
	}
	u.answers[profile] = a
}

type remoteKey struct{}

// WithRemote marks a look-up as a forwarded use of session u (door
// DoorRemote): the trail names u's destination and the remote rule decides.
func WithRemote(ctx context.Context, u *RemoteUse) context.Context {
	return context.WithValue(ctx, remoteKey{}, u)
}

// RemoteFrom is the look-up's remote session, nil for a local one.
func RemoteFrom(ctx context.Context) *RemoteUse {
	u, _ := ctx.Value(remoteKey{}).(*RemoteUse)
	return u
}

// OpenSession judges and records a remote session about to open for
// profiles (door DoorSSH, action "session"): refused for a profile whose
// remote rule is deny (ErrDenied, with the fix), or one with no key
// (storeerr.ErrNotFound). The caller is the program behind torale-cred ssh. No key
// leaves: each profile's key is only checked to be there.
func (s *Store) OpenSession(ctx context.Context, u *RemoteUse, profiles []string) error {
	ctx = WithRemote(WithDoor(ctx, DoorSSH), u)
	c := Caller(ctx, DoorSSH)
	v := &view{s: s}
	for _, profile := range profiles {
		if err := CheckProfile(profile); err != nil {
			return err
		}
		res, err := s.Stored(WithDoor(ctx, ""), profile) // the hint alone
		if err != nil {
			return err
		}
		p, perr := v.policy(profile)
		switch {
		case perr != nil:
			err = perr
		case p.RemoteRule() == RemoteDeny:
			err = fmt.Errorf("%w: profile %q may not be used from another host (its remote rule is deny); to allow it: torale-cred policy remote %s confirm", ErrDenied, profile, profile)
		}
		s.record(ctx, profile, DoorSSH, res.KeyHint, ActionSession, 0, c, err)
		if err != nil {
			return err
		}
	}
	return nil
}

// ActionSession is a remote session opened for a profile (the trail's
// action): no key left, a session that may use it began.
const ActionSession = "session"

// decideRemote applies profile's remote rule to a forwarded use of u's
// session: allow, deny, or confirm once per session on the desktop.
func (s *Store) decideRemote(ctx context.Context, p Policy, profile string, c *peer.Caller, u *RemoteUse) error {
	if u == nil {
		return fmt.Errorf("%w: a forwarded request without its session", ErrDenied)
	}
	dest := safetext.Text(u.Dest, safetext.MaxName)
	switch p.RemoteRule() {
	case RemoteAllow:
		return nil
	case RemoteDeny:
		return fmt.Errorf("%w: profile %q may not be used from another host (its remote rule is deny)", ErrDenied, profile)
	}
	switch u.answer(profile) {
	case answerOnce:
		return nil
	case answerDeny:
		return fmt.Errorf("%w: you denied the ssh session to %s the key of profile %q", ErrDenied, dest, profile)
	}
	if fn, ok := ctx.Value(waitingKey{}).(func(time.Duration)); ok {
		fn(s.confirmWait())
	}
	ask := s.Ask
	if ask == nil {
		ask = notify.Ask
	}
	v, err, _ := s.asking.Do("remote\x00"+u.Session+"\x00"+profile, func() (any, error) {
		if a := u.answer(profile); a != "" { // answered while this one waited its turn
			return a, nil
		}
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.confirmWait())
		defer cancel()
		body := fmt.Sprintf("The ssh session to %s (%s) asks to use the Torale API key of profile %q for requests from that host.", dest, c.Program(), profile)
		a, err := ask(actx, "Use a Torale API key from another host?", body, []notify.Choice{
			{Key: answerOnce, Label: "Allow for this ssh session"}, {Key: answerDeny, Label: "Deny"}})
		if err == nil && (a == answerOnce || a == answerDeny) {
			u.remember(profile, a)
		}
		return a, err
	})
	switch {
	case errors.Is(err, notify.ErrNoDesktop):
		return fmt.Errorf("%w: profile %q asks before a forwarded use (remote rule confirm), and no desktop can ask you about the session to %s; to allow it: torale-cred policy remote %s allow", ErrDenied, profile, dest, profile)
	case err != nil:
		return fmt.Errorf("%w: profile %q asks before a forwarded use (remote rule confirm), and nobody allowed the session to %s within %s", ErrDenied, profile, dest, s.confirmWait())
	case v.(string) == answerOnce:
		return nil
	}
	return fmt.Errorf("%w: you denied the ssh session to %s the key of profile %q", ErrDenied, dest, profile)
}
