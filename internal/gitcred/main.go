package gitcred

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/internal/safetext"
	"github.com/torale-ai/torale-cred/internal/version"
)

// Exit codes, the same as torale-cred's (SPEC.md).
const (
	exitOK       = 0
	exitFailure  = 1
	exitUsage    = 2
	exitKeychain = 4
)

const usage = `usage: git-credential-torale [--profile NAME] get|store|erase

git runs this helper to fetch Torale API keys from the OS keychain. The safe
set-up is scoped to Torale's own hosts:
  torale-cred setup-git
A global helper (git config --global credential.helper torale) is asked about
every host; it answers only the hosts of your Torale API URLs, and a plain
http:// host only when you named that URL yourself (--api-url, TORALE_API_URL,
config.json, login --api-url), but setup-git keeps it out of every other
host's way.`

// NewHelper builds the helper for the --profile given ("" when none).
type NewHelper func(profileFlag string) (*Helper, error)

// Run is git-credential-torale with its inputs passed in: it returns the
// process's exit code. Unknown operations are ignored (exit 0) as git asks;
// a request for a host the helper does not know prints nothing and exits 0
// so git asks its next helper. Failures print one sentence on stderr (never
// a key) and exit 1, or 4 when the keychain cannot be used.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, newHelper NewHelper) int {
	profile, op, err := parseArgs(args)
	switch {
	case errors.Is(err, errHelp):
		fmt.Fprintln(stdout, usage)
		return exitOK
	case errors.Is(err, errVersion):
		fmt.Fprintln(stdout, "git-credential-torale "+version.String())
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "git-credential-torale: %s\n%s\n", err, usage)
		return exitUsage
	}
	switch op {
	case "get", "store", "erase":
	default:
		return exitOK
	}
	c, err := Parse(stdin)
	if err != nil {
		return fail(stderr, err)
	}
	h, err := newHelper(profile)
	if err != nil {
		return fail(stderr, err)
	}
	if h.Stderr == nil {
		h.Stderr = stderr
	}
	switch op {
	case "get":
		answer, ok, err := h.Get(ctx, c)
		if err != nil {
			return fail(stderr, err)
		}
		if ok {
			if err := answer.Encode(stdout); err != nil {
				return fail(stderr, fmt.Errorf("the key cannot be passed to git: %w", err))
			}
		}
	case "store":
		if err := h.Store(ctx, c); err != nil {
			return fail(stderr, err)
		}
	case "erase":
		if err := h.Erase(ctx, c); err != nil {
			return fail(stderr, err)
		}
	}
	return exitOK
}

var (
	errHelp    = errors.New("help")
	errVersion = errors.New("version")
)

// parseArgs reads [--profile NAME | --profile=NAME] OPERATION: git appends
// the operation to whatever credential.helper holds.
func parseArgs(args []string) (profile, op string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--profile":
			if i+1 >= len(args) {
				return "", "", errors.New("--profile needs a profile name")
			}
			i++
			profile = args[i]
		case strings.HasPrefix(a, "--profile="):
			profile = strings.TrimPrefix(a, "--profile=")
		case a == "-h" || a == "--help":
			return "", "", errHelp
		case a == "--version":
			return "", "", errVersion
		case strings.HasPrefix(a, "-"):
			return "", "", fmt.Errorf("unknown option %q", a)
		case op != "":
			return "", "", fmt.Errorf("one operation expected, got %q and %q", op, a)
		default:
			op = a
		}
	}
	if op == "" {
		return "", "", errors.New("no operation given")
	}
	if profile != "" {
		if err := credstore.CheckProfile(profile); err != nil {
			return "", "", err
		}
	}
	return profile, op, nil
}

// fail prints err as one sentence and picks the exit code. The sentence
// is escaped: it may name a program or a value from a file, and git shows
// a helper's stderr on the user's terminal.
func fail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "git-credential-torale: %s\n", safetext.Text(err.Error(), 0))
	switch {
	case errors.Is(err, storeerr.ErrKeychain):
		return exitKeychain
	case errors.Is(err, credstore.ErrBadProfile):
		return exitUsage
	}
	return exitFailure
}
