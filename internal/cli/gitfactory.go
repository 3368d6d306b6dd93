package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/internal/gitcred"
	"github.com/torale-ai/torale-cred/internal/version"
)

// gitHelperUsage is git-credential-torale's help (--help), also shown
// after a mistake on its command line.
const gitHelperUsage = `usage: git-credential-torale [--profile NAME] get|store|erase

git runs this helper to fetch Torale API keys from the OS keychain. The safe
set-up is scoped to Torale's own hosts:
  torale-cred setup-git
A global helper (git config --global credential.helper torale) is asked about
every host; it answers only the hosts of your Torale API URLs, and a plain
http:// host only when you named that URL yourself (--api-url, TORALE_API_URL,
config.json, login --api-url), but setup-git keeps it out of every other
host's way.`

// GitCredentialMain runs git-credential-torale with the process's arguments
// and returns its exit code: git's credential protocol over the same
// Backend, resolver and environment overrides as torale-cred, and its exit
// code from the same table (errors.go).
func GitCredentialMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runGitHelper(ctx, os.Args[1:], System(), os.Getenv)
}

// runGitHelper is GitCredentialMain with its inputs passed in. A failure is
// one sentence on stderr, never a key.
func runGitHelper(ctx context.Context, args []string, io *IOStreams, getenv func(string) string) int {
	profile, op, err := gitHelperArgs(args)
	switch {
	case errors.Is(err, errGitHelp):
		fmt.Fprintln(io.Out, gitHelperUsage)
		return ExitOK
	case errors.Is(err, errGitVersion):
		fmt.Fprintln(io.Out, GitHelperName+" "+version.String())
		return ExitOK
	case err != nil:
		printGitError(io, err, true)
		return exitCode(err)
	}
	err = gitcred.Serve(ctx, op, io.In, io.Out, func() (*gitcred.Helper, error) { return NewGitHelper(io, getenv, profile) })
	printGitError(io, err, false)
	return exitCode(err)
}

var (
	errGitHelp    = errors.New("help")
	errGitVersion = errors.New("version")
)

// gitHelperArgs reads [--profile NAME | --profile=NAME] OPERATION: git
// appends the operation to whatever credential.helper holds.
func gitHelperArgs(args []string) (profile, op string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--profile":
			if i+1 >= len(args) {
				return "", "", usageErrorf(msgGitProfileNeedsName)
			}
			i++
			profile = args[i]
		case strings.HasPrefix(a, "--profile="):
			profile = strings.TrimPrefix(a, "--profile=")
		case a == "-h" || a == "--help":
			return "", "", errGitHelp
		case a == "--version":
			return "", "", errGitVersion
		case strings.HasPrefix(a, "-"):
			return "", "", usageErrorf(msgGitUnknownOption, a)
		case op != "":
			return "", "", usageErrorf(msgGitOneOperation, op, a)
		default:
			op = a
		}
	}
	if op == "" {
		return "", "", usageErrorf(msgGitNoOperation)
	}
	if profile != "" {
		if err := credstore.CheckProfile(profile); err != nil {
			return "", "", usageErrorf("%s", err)
		}
	}
	return profile, op, nil
}

// NewGitHelper builds the git helper over a Factory: profile is the
// helper's --profile ("" for TORALE_PROFILE, else "default").
func NewGitHelper(io *IOStreams, getenv func(string) string, profile string) (*gitcred.Helper, error) {
	f := NewFactory(io, getenv)
	f.Profile = profile
	p, err := f.profile()
	if err != nil {
		return nil, err
	}
	return &gitcred.Helper{Keys: f.Backend(), Profile: p, Chosen: f.profileChosen(), Env: f.env(), Stderr: io.ErrOut}, nil
}
