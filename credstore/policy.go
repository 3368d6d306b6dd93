package credstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/internal/notify"
	"github.com/torale-ai/torale-cred/internal/peer"
	"github.com/torale-ai/torale-cred/internal/safetext"
)

// Policy modes: who may receive a profile's key through torale-cred's
// doors. Open is the default.
const (
	PolicyOpen    = "open"    // any program of this user
	PolicyAllow   = "allow"   // only the listed executables
	PolicyConfirm = "confirm" // the listed ones; any other only if the user allows it on the desktop
)

// Policy is one profile's rule, kept in state.json beside the metadata (it
// survives logout, so a new key keeps its old protection).
type Policy struct {
	Mode  string   `json:"mode"`
	Allow []string `json:"allow,omitempty"`
	// Remote is the rule for requests forwarded from another host by
	// torale-cred ssh: allow, confirm (once per session) or deny; ""
	// follows Mode (RemoteRule).
	Remote string `json:"remote,omitempty"`
}

// CheckPolicy refuses a mode or an executable that cannot be matched: the
// caller's executable is always an absolute, clean path.
func CheckPolicy(p Policy) error {
	if err := checkRemoteRule(p.Remote); err != nil {
		return err
	}
	switch p.Mode {
	case PolicyOpen, PolicyConfirm:
	case PolicyAllow:
		if len(p.Allow) == 0 {
			return fmt.Errorf("%w: \"allow\" needs at least one executable", ErrBadRequest)
		}
	default:
		return fmt.Errorf("%w: the policy is allow, confirm or open, not \"%s\"", ErrBadRequest, safetext.Text(p.Mode, 20))
	}
	for _, e := range p.Allow {
		if !strings.HasPrefix(e, "/") || strings.ContainsAny(e, "\x00\n") {
			return fmt.Errorf("%w: \"%s\" is not an absolute executable path (policy allow names programs by their path, as `torale-cred audit` shows them)", ErrBadRequest, safetext.Text(e, 80))
		}
	}
	return nil
}

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

// policy is profile's rule: open when state.json names none. A rule that
// cannot be read denies (ErrDenied, with the fix): a policy written
// "Allow", or a state.json that cannot be read, must not mean "open" to
// whoever asks next.
func (v *view) policy(profile string) (Policy, error) {
	setCmd := "torale-cred policy set " + profile + " open|confirm|allow EXE..."
	st, err := v.state()
	if err != nil {
		return Policy{}, fmt.Errorf("%w: profile %q hands its key to nobody while its policy cannot be read: %s cannot be read (%v); fix the file or move it aside, then set the policy again: %s",
			ErrDenied, profile, v.s.StateFile.Path(), err, setCmd)
	}
	if st == nil {
		return Policy{Mode: PolicyOpen}, nil
	}
	p, ok := st.Policies[profile]
	if !ok {
		return Policy{Mode: PolicyOpen}, nil
	}
	if err := CheckPolicy(p); err != nil {
		return Policy{}, fmt.Errorf("%w: profile %q hands its key to nobody while its policy in %s is not valid (%s); set it again: %s",
			ErrDenied, profile, v.s.StateFile.Path(), strings.TrimPrefix(err.Error(), ErrBadRequest.Error()+": "), setCmd)
	}
	return p, nil
}

// decide applies profile's policy to caller c. The daemon's own look-up
// (DoorRemind) never raises a question: it goes without.
func (s *Store) decide(ctx context.Context, v *view, profile, door string, c *peer.Caller) error {
	p, err := v.policy(profile)
	if err != nil {
		return err
	}
	if door == DoorRemote {
		// Another host's request: the executable is our ssh client, which
		// says nothing of the program asking; the remote rule decides.
		return s.decideRemote(ctx, p, profile, c, RemoteFrom(ctx))
	}
	if p.Mode == PolicyOpen || Allows(p.Allow, c.Exe) {
		return nil
	}
	if door == DoorRemind {
		return fmt.Errorf("%w: profile %q's policy does not cover torale-cred's own look-up", ErrDenied, profile)
	}
	prog := c.Program()
	allowCmd := "torale-cred policy set " + profile + " allow " + shownList(append(slices.Clone(p.Allow), exeOr(c)), " ")
	if p.Mode == PolicyAllow {
		return fmt.Errorf("%w: profile %q hands its key only to %s (policy allow), not to %s; to allow it: %s",
			ErrDenied, profile, shownList(p.Allow, ", "), prog, allowCmd)
	}
	if c.Exe == "" {
		return fmt.Errorf("%w: profile %q asks before handing its key out (policy confirm), and the program asking (pid %d) cannot be named; to hand it out freely: torale-cred policy set %s open",
			ErrDenied, profile, c.PID, profile)
	}
	answer, err := s.confirm(ctx, profile, c)
	switch {
	case errors.Is(err, notify.ErrNoDesktop):
		return fmt.Errorf("%w: profile %q asks before handing its key out (policy confirm), and no desktop can ask you about %s; to allow it: %s", ErrDenied, profile, prog, allowCmd)
	case err != nil:
		return fmt.Errorf("%w: profile %q asks before handing its key out (policy confirm), and nobody allowed %s within %s; to allow it: %s", ErrDenied, profile, prog, s.confirmWait(), allowCmd)
	case answer == answerDeny:
		return fmt.Errorf("%w: you denied %s the key of profile %q (policy confirm)", ErrDenied, prog, profile)
	case answer == answerAlways:
		if err := v.s.allowAlways(profile, c.Exe); err != nil {
			s.warnf("remembering an \"Allow always\" answer: %v; it was allowed this once", err)
		}
	}
	return nil
}

// Allows reports whether exe (a caller's executable, as the kernel names
// it: links resolved) is one of the programs list names, compared by
// resolved path: an entry that is a symbolic link (/usr/bin/python3 ->
// python3.11) allows the program it points at now, as `policy set` showed.
// An entry that cannot be resolved (the program is gone) matches only
// itself.
func Allows(list []string, exe string) bool {
	if exe == "" {
		return false
	}
	if slices.Contains(list, exe) {
		return true
	}
	real := ResolvedProgram(exe)
	for _, e := range list {
		if ResolvedProgram(e) == real {
			return true
		}
	}
	return false
}

// ResolvedProgram is path with every symbolic link resolved, or path
// itself when it cannot be resolved.
func ResolvedProgram(path string) string {
	if r, err := filepath.EvalSymlinks(path); err == nil {
		return r
	}
	return path
}

// shownList joins names from state.json or /proc for a person to read,
// each escaped.
func shownList(names []string, sep string) string {
	shown := make([]string, len(names))
	for i, n := range names {
		shown[i] = safetext.Text(n, safetext.MaxName)
	}
	return strings.Join(shown, sep)
}

func exeOr(c *peer.Caller) string {
	if c.Exe != "" {
		return c.Exe
	}
	return "EXE"
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

// SetPolicy records profile's policy (open, with no remote rule, removes
// it). The remote rule is kept unless p sets one.
func (s *Store) SetPolicy(profile string, p Policy) error {
	if err := CheckProfile(profile); err != nil {
		return err
	}
	if err := CheckPolicy(p); err != nil {
		return err
	}
	return s.UpdateState(func(st *State) error {
		if p.Remote == "" {
			p.Remote = st.Policies[profile].Remote
		}
		st.setPolicy(profile, p)
		return nil
	})
}

// SetRemoteRule records profile's remote rule alone (allow, confirm or
// deny), keeping its mode and allow list.
func (s *Store) SetRemoteRule(profile, rule string) error {
	if err := CheckProfile(profile); err != nil {
		return err
	}
	if rule == "" {
		return fmt.Errorf("%w: the remote rule is allow, confirm or deny", ErrBadRequest)
	}
	if err := checkRemoteRule(rule); err != nil {
		return err
	}
	return s.UpdateState(func(st *State) error {
		p, ok := st.Policies[profile]
		if !ok {
			p = Policy{Mode: PolicyOpen}
		}
		p.Remote = rule
		st.setPolicy(profile, p)
		return nil
	})
}

func (st *State) setPolicy(profile string, p Policy) {
	if p.Mode == PolicyOpen && p.Remote == "" {
		delete(st.Policies, profile)
		return
	}
	if st.Policies == nil {
		st.Policies = map[string]Policy{}
	}
	st.Policies[profile] = p
}
