package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// gitHelperName is what credential.<url>.helper holds: git runs
// git-credential-torale from PATH for it.
const gitHelperName = "torale"

// gitHelperValues are the values setup-git writes for each host, in order:
// the empty one drops helpers configured earlier for that host (so a
// generic `store` helper never sees a Torale key), then ours.
var gitHelperValues = []string{"", gitHelperName}

func newSetupGitCmd(f *Factory) *cobra.Command {
	var remove, preCommit, force bool
	cmd := &cobra.Command{
		Use:   "setup-git [--remove] [--pre-commit [--force]]",
		Short: "Point git's credential helper for the Torale hosts at git-credential-torale",
		Long: `Configures git (git config --global) to ask git-credential-torale for
credentials for the Torale API hosts only: https://api.torale.ai, every
profile's self-hosted api_url, and config.json's api_url. For each host it
sets credential.<url>.helper first to an empty value, which cuts off helpers
configured earlier for that host, then to "torale". Other hosts are left
alone. Running it again changes nothing; --remove takes out exactly those
entries (for every host that has them).

git honours GIT_CONFIG_GLOBAL, so the file changed is the one git would use.

--pre-commit instead installs a pre-commit hook in the current repository
(.git/hooks/pre-commit, or core.hooksPath's) that runs 'torale-cred scan
--staged' and refuses a commit whose staged files hold a real Torale key.
A hook of another program is never overwritten unless --force is given; it
is then kept beside ours as pre-commit.before-torale-cred. With --remove, it
takes out the hook it installed.`,
		Example: `  torale-cred setup-git
  printf 'protocol=https\nhost=api.torale.ai\n\n' | git credential fill
  torale-cred setup-git --remove`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if force && !preCommit {
				return usageErrorf(msgSetupGitForceAlone)
			}
			if preCommit {
				return setupPreCommit(cmd.Context(), f, remove, force)
			}
			if remove {
				return removeGitSetup(cmd.Context(), f)
			}
			return runSetupGit(cmd.Context(), f)
		},
	}
	cmd.Flags().BoolVar(&remove, "remove", false, "remove the entries setup-git added")
	cmd.Flags().BoolVar(&preCommit, "pre-commit", false, "install a pre-commit hook in this repository that refuses a commit holding a real key")
	cmd.Flags().BoolVar(&force, "force", false, "with --pre-commit: replace another program's hook (kept as pre-commit.before-torale-cred)")
	return cmd
}

func runSetupGit(ctx context.Context, f *Factory) error {
	h, err := NewGitHelper(f.IO, f.Getenv, f.Profile)
	if err != nil {
		return err
	}
	h.Chosen = false // every profile's hosts, whichever is selected
	urls, err := h.KnownURLs(ctx)
	if err != nil {
		return err
	}
	for _, u := range urls {
		key := "credential." + u + ".helper"
		vals, err := gitConfigGetAll(ctx, key)
		if err != nil {
			return err
		}
		if slices.Equal(vals, gitHelperValues) {
			f.say(msgSetupGitAlready, u)
			continue
		}
		if _, err := gitConfig(ctx, "--replace-all", key, gitHelperValues[0]); err != nil {
			return err
		}
		if _, err := gitConfig(ctx, "--add", key, gitHelperValues[1]); err != nil {
			return err
		}
		if others := countOthers(vals); others > 0 {
			f.say(msgSetupGitReplaced, u, others)
		} else {
			f.say(msgSetupGitAsks, u)
		}
	}
	if _, err := exec.LookPath("git-credential-" + gitHelperName); err != nil {
		f.warn(msgSetupGitHelperAbsent)
	}
	return nil
}

// countOthers counts values that are neither empty nor ours.
func countOthers(vals []string) int {
	n := 0
	for _, v := range vals {
		if v != "" && v != gitHelperName {
			n++
		}
	}
	return n
}

// removeGitSetup takes the empty and "torale" values out of every
// credential.<url>.helper that holds "torale", and the section when nothing
// else is left in it. Other helpers and settings stay.
func removeGitSetup(ctx context.Context, f *Factory) error {
	entries, err := gitConfigRegexp(ctx, `^credential\..+\.helper$`)
	if err != nil {
		return err
	}
	var sections []string
	for _, e := range entries {
		sub, ok := credentialSubsection(e[0])
		if ok && e[1] == gitHelperName && !slices.Contains(sections, sub) {
			sections = append(sections, sub)
		}
	}
	if len(sections) == 0 {
		f.say(msgSetupGitNothing)
		return nil
	}
	for _, sub := range sections {
		if _, err := gitConfig(ctx, "--unset-all", "credential."+sub+".helper", "^(torale)?$"); err != nil && !errors.Is(err, errGitConfigMissing) {
			return err
		}
		left, err := gitConfigRegexp(ctx, `^credential\.`)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(left, func(e [2]string) bool { s, _ := credentialSubsection(e[0]); return s == sub }) {
			// Drop the header git may leave behind; "no such section" is fine.
			_, _ = gitConfig(ctx, "--remove-section", "credential."+sub)
		}
		f.say(msgSetupGitRemoved, sub)
	}
	return nil
}

// credentialSubsection is the URL in "credential.<url>.helper".
func credentialSubsection(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, "credential.")
	if !ok {
		return "", false
	}
	i := strings.LastIndexByte(rest, '.')
	if i <= 0 {
		return "", false
	}
	return rest[:i], true
}

// gitConfigGetAll is every value of key in the global config; none when
// it is not set.
func gitConfigGetAll(ctx context.Context, key string) ([]string, error) {
	out, err := gitConfig(ctx, "-z", "--get-all", key)
	if errors.Is(err, errGitConfigMissing) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	vals := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	return vals, nil
}

// gitConfigRegexp is every global entry whose name matches re, as (name,
// value) pairs.
func gitConfigRegexp(ctx context.Context, re string) ([][2]string, error) {
	out, err := gitConfig(ctx, "-z", "--get-regexp", re)
	if errors.Is(err, errGitConfigMissing) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var entries [][2]string
	for _, rec := range strings.Split(string(out), "\x00") {
		if rec == "" {
			continue
		}
		name, value, _ := strings.Cut(rec, "\n")
		entries = append(entries, [2]string{name, value})
	}
	return entries, nil
}

// gitConfig runs `git config --global ARGS…` with the process environment,
// so GIT_CONFIG_GLOBAL and HOME choose the file as they do for git.
func gitConfig(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"config", "--global"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err == nil {
		return out, nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if code := ee.ExitCode(); code == 1 || code == 5 {
			return out, errGitConfigMissing
		}
		msg := strings.TrimSpace(stderr.String())
		msg = strings.TrimPrefix(msg, "fatal: ")
		return nil, fmt.Errorf(msgGitConfigFailed, msg)
	}
	// Not %w: an *exec.Error here is git missing, not the command exec runs.
	return nil, fmt.Errorf(msgCannotRunGit, err)
}
