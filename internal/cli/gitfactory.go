package cli

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/torale-ai/torale-cred/internal/gitcred"
)

// GitCredentialMain runs git-credential-torale with the process's arguments
// and returns its exit code: git's credential protocol over the same
// Backend, resolver and environment overrides as torale-cred.
func GitCredentialMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return gitcred.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, func(profile string) (*gitcred.Helper, error) {
		return NewGitHelper(System(), os.Getenv, profile)
	})
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
