// Package cli is torale-cred's command line: one cobra command per file,
// exit codes decided in one place (errors.go), every message to people on
// stderr with the program's prefix and data alone on stdout.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/torale-ai/torale-cred/credstore"
)

// Main runs torale-cred with the process's arguments and returns its exit code.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, os.Args[1:], System(), os.Getenv)
}

// Run is Main with its inputs passed in, for tests.
func Run(ctx context.Context, args []string, io *IOStreams, getenv func(string) string) int {
	f := NewFactory(io, getenv)
	root := newRootCmd(f, args)
	root.SetArgs(args)
	root.SetIn(io.In)
	root.SetOut(io.Out)
	root.SetErr(io.ErrOut)
	err := root.ExecuteContext(ctx)
	if err != nil {
		var ec *ExitCodeError
		if !errors.As(err, &ec) {
			printError(io, err)
		}
	}
	return exitCode(err)
}

func newRootCmd(f *Factory, args []string) *cobra.Command {
	root := &cobra.Command{
		Use:   "torale-cred",
		Short: "Keep Torale API keys in the OS keychain, not in plaintext",
		Long: `torale-cred keeps Torale API keys in the OS keychain (macOS Keychain, Linux
Secret Service, Windows Credential Manager) instead of ~/.torale/config.json.

A key is chosen by Torale's own rule: the --api-key flag, then TORALE_API_KEY,
then the key stored for the profile. Run 'torale-cred daemon' (or install it
with 'torale-cred service install') to move plaintext keys out of
config.json as soon as they appear and to answer other tools over a socket.`,
		Example: `  torale-cred login                 # paste a key; stored in the keychain
  torale-cred status                # which key, how old, when to rotate
  curl -H "Authorization: Bearer $(torale-cred token)" https://api.torale.ai/auth/me
  torale-cred exec -- torale task list`,
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
		Version:           versionString(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErrorf("%s", err) })
	pf := root.PersistentFlags()
	pf.StringVar(&f.Profile, "profile", "", "profile to use (default $TORALE_PROFILE, else \"default\")")
	pf.DurationVar(&f.KeychainTimeout, "keychain-timeout", 0, "bound on each keychain call; raise it to answer an unlock prompt (default 3s, $TORALE_CRED_KEYCHAIN_TIMEOUT)")
	pf.StringVar(&f.ConfigPath, "torale-config", "", "the official Torale CLI's config.json (default $TORALE_CONFIG, else ~/.torale/config.json)")
	pf.StringVar(&f.SocketPath, "socket", "", "the daemon's socket (default $TORALE_CRED_SOCKET, else $XDG_RUNTIME_DIR/torale/cred.sock)")
	pf.Var(&f.RotateAfter, "rotate-after", "a key's life before rotation is due, in days (60d) or as a duration (default 90d, $TORALE_CRED_ROTATE_AFTER)")

	root.AddCommand(
		newLoginCmd(f), newLogoutCmd(f), newTokenCmd(f), newStatusCmd(f), newListCmd(f),
		newExecCmd(f), newEnvCmd(f), newSetupGitCmd(f), newImportCmd(f), newRotateCmd(f),
		newDaemonCmd(f), newServiceCmd(f, args), newVersionCmd(f),
	)
	return root
}

// printError writes err as one sentence with the program prefix.
func printError(io *IOStreams, err error) {
	msg := err.Error()
	if errors.Is(err, errUsage) {
		msg = msg[len(errUsage.Error())+2:]
		fmt.Fprintf(io.ErrOut, "torale-cred: %s\nRun 'torale-cred --help' for usage.\n", msg)
		return
	}
	fmt.Fprintf(io.ErrOut, "torale-cred: %s\n", msg)
}

// noKeyError is ErrNotFound with the profile and the command that fixes it.
func noKeyError(profile string) error { return &noKeyErr{profile} }

// noKeyErr words ErrNotFound as the official CLI does ("No API key
// configured") with the command that fixes it.
type noKeyErr struct{ profile string }

func (e *noKeyErr) Error() string {
	return fmt.Sprintf("No API key configured for profile %q; run: torale-cred login --profile %s", e.profile, e.profile)
}

func (e *noKeyErr) Unwrap() error { return credstore.ErrNotFound }

// resolveErr words a resolver error for the profile.
func resolveErr(profile string, err error) error {
	if errors.Is(err, credstore.ErrNotFound) && !errors.Is(err, credstore.ErrKeychain) {
		return noKeyError(profile)
	}
	return err
}
