// Package cli is torale-cred's command line, and git-credential-torale's:
// one cobra command per file, every sentence to people worded in one file
// (messages.go) and said on stderr with the program's prefix, data alone on
// stdout, and exit codes decided in one place (errors.go).
package cli

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/keychain"
)

// GitHelperName is the name that makes this program git's credential
// helper (git config credential.helper torale runs git-credential-torale).
const GitHelperName = "git-credential-torale"

// Main runs torale-cred with the process's arguments and returns its exit
// code; reached by the name git-credential-torale (a link), it is the git
// helper.
func Main() int {
	if strings.TrimSuffix(filepath.Base(os.Args[0]), ".exe") == GitHelperName {
		return GitCredentialMain()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, os.Args[1:], System(), os.Getenv)
}

// Run is Main with its inputs passed in, for tests.
func Run(ctx context.Context, args []string, io *IOStreams, getenv func(string) string) int {
	if keyArgument(args) {
		err := usageErrorf("%s", msgKeyAsArgument)
		printError(io, "", err)
		return exitCode(err)
	}
	f := NewFactory(io, getenv)
	root := newRootCmd(f)
	root.SetArgs(args)
	root.SetIn(io.In)
	root.SetOut(io.Out)
	root.SetErr(io.ErrOut)
	cmd, err := root.ExecuteContextC(ctx)
	if f.backend != nil && f.backend.client != nil {
		f.backend.client.Close()
	}
	if err != nil {
		err = cobraUsage(err)
		var ec *ExitCodeError
		if !errors.As(err, &ec) {
			path := ""
			if cmd != nil {
				path = cmd.CommandPath()
			}
			printError(io, path, err)
		}
	}
	return exitCode(err)
}

// keyArgument reports whether a positional argument (before "--", and not
// the value of --api-key) looks like a key: refused before anything runs,
// and never echoed.
func keyArgument(args []string) bool {
	for i, a := range args {
		switch {
		case a == "--":
			return false
		case i > 0 && args[i-1] == "--api-key":
		case strings.HasPrefix(a, "sk_") && len(a) >= 3+16:
			return true
		}
	}
	return false
}

// cobraUsage marks cobra's own parsing errors (unknown command, wrong
// number of arguments) as usage errors, exit 2, as flag errors already are.
func cobraUsage(err error) error {
	if errors.Is(err, errUsage) {
		return err
	}
	msg := err.Error()
	for _, p := range []string{"unknown command ", "accepts ", "requires at least ", "requires at most ", "invalid argument ", "unknown flag", "unknown shorthand flag"} {
		if strings.HasPrefix(msg, p) {
			return usageErrorf("%s", msg)
		}
	}
	return err
}

func newRootCmd(f *Factory) *cobra.Command {
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
  printf 'Authorization: Bearer %s\n' "$(torale-cred token)" | curl -H @- https://api.torale.ai/auth/me
  torale-cred exec -- python3 -c 'from torale import Torale; print(Torale().tasks.list())'`,
		SilenceErrors: true,
		SilenceUsage:  true,
		// cobra's own `completion bash|zsh|fish|powershell` (SPEC), kept
		// out of the help's command list.
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: false},
		Version:           versionString(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErrorf("%s", err) })
	pf := root.PersistentFlags()
	pf.StringVar(&f.Profile, "profile", "", "profile to use (default $TORALE_PROFILE, else \"default\")")
	pf.DurationVar(&f.KeychainTimeout, "keychain-timeout", 0, "bound on each keychain call; raise it to answer an unlock prompt ($TORALE_CRED_KEYCHAIN_TIMEOUT)")
	pf.StringVar(&f.ConfigPath, "torale-config", "", "the official Torale CLI's config.json (default $TORALE_CONFIG, else ~/.torale/config.json)")
	pf.StringVar(&f.SocketPath, "socket", "", "the daemon's socket (default $TORALE_CRED_SOCKET, else $XDG_RUNTIME_DIR/torale/cred.sock, else /run/user/UID/torale/cred.sock when that directory is yours, else ~/.torale/cred.sock)")
	pf.Var(&f.RotateAfter, "rotate-after", "a key's life before rotation is due, in days (60d) or as a duration ($TORALE_CRED_ROTATE_AFTER)")
	// The defaults as a user reads them (help and man pages), not the zero
	// values that mean "flag not given, ask the environment".
	pf.Lookup("keychain-timeout").DefValue = keychain.DefaultTimeout.String()
	pf.Lookup("rotate-after").DefValue = fmtPeriod(credstore.DefaultRotationPeriod)

	root.AddCommand(
		newLoginCmd(f), newLogoutCmd(f), newTokenCmd(f), newStatusCmd(f), newListCmd(f),
		newExecCmd(f), newEnvCmd(f), newSetupGitCmd(f), newImportCmd(f), newRotateCmd(f),
		newDaemonCmd(f), newServiceCmd(f), newDoctorCmd(f), newVersionCmd(f),
		newAuditCmd(f), newPolicyCmd(f), newEndpointCmd(f), newScanCmd(f), newRestoreCmd(f), newSSHCmd(f), newStoreCmd(f),
	)
	registerCompletions(root, f)
	return root
}
