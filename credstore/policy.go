package credstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

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
