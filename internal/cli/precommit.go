package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/torale-ai/torale-cred/internal/atomicfile"
)

// preCommitMarker names the hook torale-cred installed, so it is known
// again (and never mistaken for another program's).
const preCommitMarker = "# torale-cred pre-commit hook"

// preCommitHook fails closed: without torale-cred on PATH the commit is
// refused with the reason, never let through unscanned.
const preCommitHook = `#!/bin/sh
` + preCommitMarker + ` (torale-cred setup-git --pre-commit).
# Refuses a commit whose staged files hold a real Torale API key.
# Remove it with: torale-cred setup-git --pre-commit --remove
if ! command -v torale-cred >/dev/null 2>&1; then
	echo "torale-cred pre-commit hook: torale-cred is not on PATH, so the staged files could not be checked for Torale keys; install it, or commit with --no-verify" >&2
	exit 1
fi
exec torale-cred scan --staged
`

// setupPreCommit installs (or with remove, takes out) the hook in the
// repository of the current directory.
func setupPreCommit(ctx context.Context, f *Factory, remove, force bool) error {
	out, err := exec.CommandContext(ctx, "git", "rev-parse", "--git-path", "hooks/pre-commit").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return errors.New(msgHookNoRepo)
		}
		return fmt.Errorf(msgCannotRunGit, err)
	}
	hook := strings.TrimRight(string(out), "\r\n")
	if !filepath.IsAbs(hook) {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		hook = filepath.Join(wd, hook)
	}
	aside := hook + ".before-torale-cred"
	old, err := os.ReadFile(hook)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf(msgHookReading, hook, err)
	}
	ours := exists && bytes.Contains(old, []byte(preCommitMarker))
	if remove {
		if !ours {
			f.say(msgHookNotOurs, shownPath(hook))
			return nil
		}
		if err := os.Remove(hook); err != nil {
			return fmt.Errorf(msgHookRemoving, hook, err)
		}
		if _, err := os.Lstat(aside); err == nil {
			if err := os.Rename(aside, hook); err != nil {
				return fmt.Errorf(msgHookPuttingBack, aside, err)
			}
			f.say(msgHookRemovedBack, shownPath(hook))
			return nil
		}
		f.say(msgHookRemoved, shownPath(hook))
		return nil
	}
	switch {
	case ours && string(old) == preCommitHook:
		f.say(msgHookAlready, shownPath(hook))
		return nil
	case exists && !ours && !force:
		return fmt.Errorf(msgHookAnother, shownPath(hook), shownPath(filepath.Base(aside)))
	case exists && !ours:
		if err := os.Rename(hook, aside); err != nil {
			return fmt.Errorf(msgHookKeepingAside, err)
		}
		f.say(msgHookKeptAside, shownPath(aside))
	}
	if err := os.MkdirAll(filepath.Dir(hook), 0o755); err != nil {
		return fmt.Errorf(msgHookCreatingDir, filepath.Dir(hook), err)
	}
	if err := atomicfile.Write(hook, []byte(preCommitHook), 0o755); err != nil {
		return err
	}
	f.say(msgHookInstalled, shownPath(hook))
	return nil
}
