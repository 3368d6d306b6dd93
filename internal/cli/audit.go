package cli

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/internal/audit"
	"github.com/torale-ai/torale-cred/internal/notify"
	"github.com/torale-ai/torale-cred/internal/paths"
)

// sinceFlag is --since: days ("7d"), a duration ("36h") or a date
// ("2026-11-01").
type sinceFlag struct {
	d  time.Duration
	at time.Time
}

func (s *sinceFlag) String() string {
	switch {
	case !s.at.IsZero():
		return s.at.Format(time.DateOnly)
	case s.d > 0:
		return fmtPeriod(s.d)
	}
	return ""
}

func (s *sinceFlag) Set(v string) error {
	if t, err := time.ParseInLocation(time.DateOnly, v, time.Local); err == nil {
		s.at, s.d = t, 0
		return nil
	}
	d, err := parsePeriod(v)
	if err != nil {
		return fmt.Errorf(msgAuditBadSince, v)
	}
	s.d, s.at = d, time.Time{}
	return nil
}

func (s *sinceFlag) Type() string { return "period" }

func (s *sinceFlag) from(now time.Time) time.Time {
	if !s.at.IsZero() {
		return s.at
	}
	return now.Add(-s.d)
}

type auditOptions struct {
	since   sinceFlag
	json    bool
	summary bool
}

func newAuditCmd(f *Factory) *cobra.Command {
	o := auditOptions{since: sinceFlag{d: 30 * 24 * time.Hour}}
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show which programs received which profile's key (never a key)",
		Long: `Every time a key leaves torale-cred (a socket answer, token, exec, env, the
git helper, a rotation's call to the API) one line goes to the audit trail,
audit.jsonl in the state directory: when, the profile, the key's hint, the
door, the result (ok, or denied by a policy) and the program that received
it: its pid, executable, systemd unit, and whether it came over SSH.

--summary groups it by key and program: which programs used each key, as
rotate shows before it revokes an old key. --json prints the lines as they
are stored (or the summary). --profile limits it to one profile.

The trail covers torale-cred's doors only: any program of yours can also ask
the keychain directly (README: "What the audit trail can and cannot see").`,
		Example: `  torale-cred audit
  torale-cred audit --since 7d --profile work
  torale-cred audit --summary --since 90d`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAudit(f, cmd, o) },
	}
	cmd.Flags().Var(&o.since, "since", "how far back: days (7d), a duration (36h) or a date (2026-11-01)")
	cmd.Flags().BoolVar(&o.json, "json", false, "print as JSON")
	cmd.Flags().BoolVar(&o.summary, "summary", false, "which programs used each key, with counts")
	return cmd
}

func runAudit(f *Factory, cmd *cobra.Command, o auditOptions) error {
	dir, err := paths.StateDir(f.Getenv)
	if err != nil {
		return err
	}
	filter := audit.Filter{Since: o.since.from(f.clock())}
	if cmd.Flags().Changed("profile") || f.Getenv("TORALE_PROFILE") != "" {
		if filter.Profile, err = f.profile(); err != nil {
			return err
		}
	}
	events, bad, err := audit.Read(dir, filter)
	if err != nil {
		return fmt.Errorf(msgAuditReading, dir, err)
	}
	if bad > 0 {
		f.warn(msgAuditBadLines, bad)
	}
	// JSON is always a list (empty, not null); a person is told of none.
	var rows any = events
	n := len(events)
	if o.summary {
		usage := audit.Summarize(events)
		rows, n = usage, len(usage)
		if usage == nil {
			rows = []audit.Usage{}
		}
	} else if events == nil {
		rows = []audit.Event{}
	}
	switch {
	case o.json:
		return writeJSON(f.IO.Out, rows)
	case n == 0:
		f.say(msgAuditNone, filter.Since.Local().Format("2006-01-02 15:04"))
		return nil
	}
	if usage, ok := rows.([]audit.Usage); ok {
		tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PROFILE\tKEY\tPROGRAM\tTIMES\tDENIED\tLAST\tUNIT\tDOORS")
		for _, u := range usage {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", shown(u.Profile), shown(u.KeyHint), shown(u.Exe), u.Count, u.Denied,
				u.Last.Local().Format("2006-01-02 15:04"), orDash(shownList(u.Units, ",")), shownList(u.Doors, ","))
		}
		return tw.Flush()
	}
	tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WHEN\tPROFILE\tKEY\tPROGRAM\tUNIT\tDOOR\tRESULT")
	// Every field is a name the trail holds as it was read (a program
	// names itself), shown escaped: a path holding CR and escapes must
	// not paint a row of its own.
	for _, e := range events {
		prog, unit := "unknown", ""
		if e.Caller != nil {
			prog, unit = e.Caller.Program(), shown(e.Caller.Unit)
			switch {
			case e.Remote != "":
				prog += " for " + shown(e.Remote) + " (forwarded)"
			case e.Caller.Forwarded:
				prog += " (forwarded by hand)"
			case e.Caller.OverSSH():
				prog += " over SSH"
			}
		}
		door := e.Door
		if e.Action != "" {
			door += " (" + e.Action + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Local().Format("2006-01-02 15:04:05"), shown(e.Profile), shown(e.KeyHint),
			prog, orDash(unit), shown(door), shown(e.Result))
	}
	return tw.Flush()
}

// shownList joins names, each escaped.
func shownList(names []string, sep string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = shown(n)
	}
	return strings.Join(out, sep)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// usedBy is rotate's "who used this key": one line per program that
// received the key with hint in the last 30 days, from the audit trail.
func (f *Factory) usedBy(hint string) []string {
	dir, err := paths.StateDir(f.Getenv)
	if err != nil {
		return nil
	}
	const days = 30
	events, _, err := audit.Read(dir, audit.Filter{Since: f.clock().Add(-days * 24 * time.Hour), KeyHint: hint})
	if err != nil {
		return []string{fmt.Sprintf(msgUsedByUnreadable, err, hint)}
	}
	// rotate's own use of the key (its calls to the API) is not a program
	// to restart.
	events = slices.DeleteFunc(events, func(e audit.Event) bool { return e.Door == credstore.DoorRotate })
	var progs []audit.Usage
	for _, u := range audit.Summarize(events) {
		if u.Count > 0 {
			progs = append(progs, u)
		}
	}
	if len(progs) == 0 {
		return []string{fmt.Sprintf(msgUsedByNone, hint, days)}
	}
	lines := []string{msgUsedBy(len(progs), hint, days)}
	for _, u := range progs {
		where := ""
		if len(u.Units) > 0 {
			where = fmt.Sprintf(msgUsedByUnits, shownList(u.Units, ", "))
		}
		lines = append(lines, fmt.Sprintf(msgUsedByProgram, shown(u.Exe), where, msgTimes(u.Count), u.Last.Local().Format("2006-01-02 15:04")))
	}
	return lines
}

// localAudit is the trail as a command that read the keychain itself
// writes it: its own line at once, and its own first-use alert.
func (f *Factory) localAudit(e audit.Event) {
	dir, err := paths.StateDir(f.Getenv)
	if err != nil {
		f.warn(msgAuditNotWritten, err)
		return
	}
	first, err := audit.Append(dir, 0, e)
	if err != nil {
		f.warn(msgAuditNotWritten, err)
		return
	}
	if first && e.Action == "" {
		title, body := audit.FirstUseAlert(e)
		_ = notify.Notify(context.Background(), title, body)
	}
}

type policyOptions struct{ json bool }

func newPolicyCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Choose which programs may receive a profile's key",
		Long: `A profile's policy decides who receives its key through torale-cred's doors
(the socket, token, exec, env, the git helper):

  open     any program of yours (the default)
  allow    only the executables listed, by absolute path as torale-cred audit shows them
  confirm  the listed ones; any other only when you allow it on the desktop
           (Allow once, Allow always, Deny); refused after 30 s or where no
           desktop can ask

Executables are compared by resolved path: a symbolic link such as
/usr/bin/python3 allows the program it points at when the key is asked for
(/usr/bin/python3.11), and 'policy set' shows what each one resolves to now.

A refused look-up is a 403 "denied" on the socket and exit 1 at the command
line, and it is in the audit trail. The policy lives in state.json and
survives logout.`,
		Example: `  torale-cred policy set work allow "$(git --exec-path)/git" /usr/local/bin/torale
  torale-cred policy set work confirm
  torale-cred policy set work open
  torale-cred policy show`,
	}
	cmd.AddCommand(newPolicySetCmd(f), newPolicyShowCmd(f), newPolicyRemoteCmd(f))
	return cmd
}

func newPolicySetCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "set PROFILE allow EXE...|confirm|open",
		Short: "Set a profile's policy",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usageErrorf(msgPolicySetArgs)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			profile, mode, exes := args[0], args[1], args[2:]
			if mode != credstore.PolicyAllow && len(exes) > 0 && mode != credstore.PolicyConfirm {
				return usageErrorf(msgPolicyNoExes, mode)
			}
			p := credstore.Policy{Mode: mode, Allow: exes}
			if err := credstore.CheckPolicy(p); err != nil {
				return usageErrorf("%s", strings.TrimPrefix(err.Error(), credstore.ErrBadRequest.Error()+": "))
			}
			if err := credstore.CheckProfile(profile); err != nil {
				return err
			}
			st, err := f.Store()
			if err != nil {
				return err
			}
			if err := st.SetPolicy(profile, p); err != nil {
				return err
			}
			switch mode {
			case credstore.PolicyOpen:
				f.say(msgPolicyOpen, profile)
			case credstore.PolicyAllow:
				f.say(msgPolicyAllow, profile, strings.Join(resolvedList(exes), ", "))
			default:
				f.say(msgPolicyConfirm, profile)
			}
			return nil
		},
	}
}

// resolvedList names each program as given and, for a symbolic link, the
// program it points at now, which is what a caller's executable is
// compared with (credstore.Allows). Escaped: the names are the user's.
func resolvedList(exes []string) []string {
	out := make([]string, len(exes))
	for i, e := range exes {
		out[i] = shown(e)
		if r := credstore.ResolvedProgram(e); r != e {
			out[i] += fmt.Sprintf(msgPolicyResolvesTo, shown(r))
		}
	}
	return out
}

func newPolicyRemoteCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "remote PROFILE allow|confirm|deny",
		Short: "Set what a profile's key may do for another host (torale-cred ssh)",
		Long: `A profile's remote rule decides each request forwarded from another host by
a torale-cred ssh session:

  allow    every forwarded use, each in the audit trail with its host
  confirm  asked on the desktop once per ssh session ("Allow for this ssh
           session"), not once per request
  deny     no session may use the profile (torale-cred ssh refuses it)

Without a rule, an open profile allows and any other confirms. The rule
is kept when 'policy set' changes the mode.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usageErrorf(msgPolicyRemoteArgs)
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
			profile, rule := args[0], args[1]
			switch rule {
			case credstore.RemoteAllow, credstore.RemoteConfirm, credstore.RemoteDeny:
			default:
				return usageErrorf(msgPolicyRemoteRule, shown(rule))
			}
			st, err := f.Store()
			if err != nil {
				return err
			}
			if err := st.SetRemoteRule(profile, rule); err != nil {
				return err
			}
			f.say(msgPolicyRemoteSet, profile, rule)
			return nil
		},
	}
}

func newPolicyShowCmd(f *Factory) *cobra.Command {
	var o policyOptions
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show every profile's policy",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			st, err := f.Store()
			if err != nil {
				return err
			}
			state, err := st.StateFile.Load()
			if err != nil {
				return err
			}
			pols := state.Policies
			if pols == nil {
				pols = map[string]credstore.Policy{}
			}
			if o.json {
				return writeJSON(f.IO.Out, pols)
			}
			if len(pols) == 0 {
				f.say(msgPolicyNone)
				return nil
			}
			tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PROFILE\tPOLICY\tREMOTE\tALLOWED")
			for _, n := range slices.Sorted(maps.Keys(pols)) {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", shown(n), shown(pols[n].Mode), shown(pols[n].RemoteRule()), orDash(shownList(pols[n].Allow, " ")))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "print as JSON")
	return cmd
}

// clock is the factory's time.
func (f *Factory) clock() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}
