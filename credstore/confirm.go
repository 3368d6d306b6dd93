package credstore

import (
	"context"
	"fmt"
	"time"

	"github.com/torale-ai/torale-cred/internal/notify"
	"github.com/torale-ai/torale-cred/internal/peer"
	"github.com/torale-ai/torale-cred/internal/safetext"
)

// confirmWait bounds the wait for the user's answer: Store.ConfirmWait,
// never more than ConfirmTimeout, which clients are told to wait for.
func (s *Store) confirmWait() time.Duration {
	if s.ConfirmWait > 0 && s.ConfirmWait < ConfirmTimeout {
		return s.ConfirmWait
	}
	return ConfirmTimeout
}

// Answers of the desktop question.
const (
	answerOnce   = "allow_once"
	answerAlways = "allow_always"
	answerDeny   = "deny"
)

// AskFunc asks the user a question on the desktop (notify.Ask).
type AskFunc func(ctx context.Context, title, body string, choices []notify.Choice) (string, error)

type waitingKey struct{}

// WithWaiting registers fn, called before a look-up waits for the user
// (the socket server tells its client to wait longer).
func WithWaiting(ctx context.Context, fn func(time.Duration)) context.Context {
	return context.WithValue(ctx, waitingKey{}, fn)
}

// confirm asks the desktop once per (profile, process) at a time: a burst
// of look-ups from one process raises one question. "Allow once" is for
// the process that asked: another process running the same executable
// gets a question of its own. A process is its pid with its executable (a
// pid reused while a question is open would also need the same
// executable); a caller with no pid shares no answer.
func (s *Store) confirm(ctx context.Context, profile string, c *peer.Caller) (string, error) {
	if fn, ok := ctx.Value(waitingKey{}).(func(time.Duration)); ok {
		fn(s.confirmWait())
	}
	ask := s.Ask
	if ask == nil {
		ask = notify.Ask
	}
	question := func() (any, error) {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.confirmWait())
		defer cancel()
		where := ""
		if c.Unit != "" {
			where = " in " + safetext.Text(c.Unit, safetext.MaxName)
		}
		if c.SSHLogin {
			where += " in an SSH login"
		}
		body := fmt.Sprintf("%s%s asks for the Torale API key of profile %q.", c.Program(), where, profile)
		return ask(actx, "Hand out a Torale API key?", body, []notify.Choice{
			{Key: answerOnce, Label: "Allow once"}, {Key: answerAlways, Label: "Allow always"}, {Key: answerDeny, Label: "Deny"}})
	}
	var v any
	var err error
	if c.PID > 0 {
		v, err, _ = s.asking.Do(fmt.Sprintf("%s\x00%d\x00%d\x00%s", profile, c.UID, c.PID, c.Exe), question)
	} else {
		v, err = question()
	}
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

// allowAlways adds exe to profile's allow list (the policy stays confirm).
func (s *Store) allowAlways(profile, exe string) error {
	return s.UpdateState(func(st *State) error {
		p, ok := st.Policies[profile]
		if !ok {
			p = Policy{Mode: PolicyConfirm}
		}
		if !Allows(p.Allow, exe) {
			p.Allow = append(p.Allow, exe)
		}
		st.setPolicy(profile, p)
		return nil
	})
}
