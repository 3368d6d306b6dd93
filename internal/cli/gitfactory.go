package cli

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/internal/gitcred"
	"github.com/torale-ai/torale-cred/internal/toraleconfig"
)

// GitCredentialMain runs git-credential-torale with the process's arguments
// and returns its exit code: git's credential protocol over the same store,
// resolver and environment overrides as torale-cred.
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
	if _, err := f.Store(); err != nil {
		return nil, err
	}
	return &gitcred.Helper{
		Keys:          gitKeys{f},
		Profile:       p,
		ConfigProfile: f.configProfile(),
		Env:           credstore.EnvFrom(getenv),
		Stderr:        io.ErrOut,
	}, nil
}

// gitKeys routes the helper's look-ups and changes through the Factory, so
// they reach the daemon whenever the CLI's do.
type gitKeys struct{ f *Factory }

func (k gitKeys) Resolve(ctx context.Context, req credstore.Request) (credstore.Resolution, error) {
	r, _, err := k.f.Resolve(ctx, req)
	return r, err
}

func (k gitKeys) StoredKey(ctx context.Context, profile string) (string, error) {
	st, err := k.f.Store()
	if err != nil {
		return "", err
	}
	return st.StoredKey(ctx, profile)
}

func (k gitKeys) Put(ctx context.Context, profile, key string, o credstore.PutOptions) error {
	return k.f.storePut(ctx, profile, key, o)
}

func (k gitKeys) Delete(ctx context.Context, profile string) error {
	return k.f.storeDelete(ctx, profile)
}

func (k gitKeys) Metadata() (*credstore.State, error) {
	st, err := k.f.Store()
	if err != nil {
		return nil, err
	}
	return st.Metadata()
}

func (k gitKeys) Plaintext(profile string) toraleconfig.Config {
	st, err := k.f.Store()
	if err != nil {
		return toraleconfig.Config{}
	}
	return st.Plaintext(profile)
}
