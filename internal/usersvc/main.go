// Package usersvc is `torale-cred service install|uninstall|start|stop|status`:
// torale-cred as a per-user service under a systemd user manager or
// launchd, written through github.com/kardianos/service. It runs in its own
// program, torale-cred-service, which `torale-cred service …` execs: the
// service library probes the system when it initialises (init, PID 1,
// systemctl, rpm-ostree on PATH), and no other command may pay for that.
// It never reads the keychain and never runs the daemon itself.
package usersvc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/torale-ai/torale-cred/internal/paths"
	"github.com/torale-ai/torale-cred/internal/progs"
)

// Exit codes, the same as torale-cred's (SPEC.md).
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// ExecutableEnv is set by `torale-cred service …` for the program it
// execs: the path of the torale-cred that was run, which the unit or agent
// must start (a `go install` or source build as well as /usr/bin).
const ExecutableEnv = "TORALE_CRED_EXECUTABLE"

// Env is what the service commands take from the process.
type Env struct {
	Out, ErrOut io.Writer
	Getenv      func(string) string
	// SocketPath is --socket (shown by install).
	SocketPath string
	// Executable is the torale-cred the service runs; nil: this process's
	// own path (tests, where the test binary plays torale-cred).
	Executable func() (string, error)
}

func (e *Env) printf(format string, a ...any) { fmt.Fprintf(e.ErrOut, format, a...) }

// socketPath is the daemon's socket: --socket, TORALE_CRED_SOCKET, the default.
func (e *Env) socketPath() (string, error) {
	if e.SocketPath != "" {
		return e.SocketPath, nil
	}
	return paths.Socket(e.Getenv)
}

// Main is torale-cred-service: the service commands with torale-cred's
// command line (`torale-cred-service service install`, as `torale-cred
// service install` execs it), returning the exit code.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &Env{Out: os.Stdout, ErrOut: os.Stderr, Getenv: os.Getenv, Executable: toraleCredPath}
	return Run(ctx, os.Args[1:], e)
}

// Run is Main with its inputs passed in, for tests.
func Run(ctx context.Context, args []string, e *Env) int {
	root := newRootCmd(e)
	root.SetArgs(args)
	root.SetOut(e.Out)
	root.SetErr(e.ErrOut)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	msg := err.Error()
	if errors.Is(err, errUsage) {
		msg = msg[len(errUsage.Error())+2:]
		fmt.Fprintf(e.ErrOut, "torale-cred: %s\nRun 'torale-cred --help' for usage.\n", msg)
		return ExitUsage
	}
	fmt.Fprintf(e.ErrOut, "torale-cred: %s\n", msg)
	return ExitFailure
}

// newRootCmd is torale-cred's root as far as the service commands go: the
// same name and global flags, so the command line torale-cred passes on
// parses the same; only --socket is used here.
func newRootCmd(e *Env) *cobra.Command {
	root := &cobra.Command{
		Use:               "torale-cred",
		Short:             "Keep Torale API keys in the OS keychain, not in plaintext",
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErrorf("%s", err) })
	pf := root.PersistentFlags()
	var profile, config, rotateAfter string
	var timeout time.Duration
	pf.StringVar(&profile, "profile", "", "profile to use (default $TORALE_PROFILE, else \"default\")")
	pf.DurationVar(&timeout, "keychain-timeout", 0, "bound on each keychain call (default 3s, $TORALE_CRED_KEYCHAIN_TIMEOUT)")
	pf.StringVar(&config, "torale-config", "", "the official Torale CLI's config.json (default $TORALE_CONFIG, else ~/.torale/config.json)")
	pf.StringVar(&e.SocketPath, "socket", "", "the daemon's socket (default $TORALE_CRED_SOCKET, else $XDG_RUNTIME_DIR/torale/cred.sock)")
	pf.StringVar(&rotateAfter, "rotate-after", "", "a key's life before rotation is due (default 90d, $TORALE_CRED_ROTATE_AFTER)")
	root.AddCommand(newServiceCmd(e))
	return root
}

// errUsage marks a usage error (exit 2).
var errUsage = errors.New("usage")

func usageErrorf(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, a...))
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// toraleCredPath is the torale-cred the service must run: the one that
// execed this program (ExecutableEnv), else a torale-cred where the
// packages and builds put it relative to this program.
func toraleCredPath() (string, error) {
	if p := os.Getenv(ExecutableEnv); filepath.IsAbs(p) {
		return p, nil
	}
	// Where progs puts it relative to this program: beside it (bin/, go
	// install), or bin/ next to /usr/lib/torale-cred/ or libexec/.
	if p, err := progs.Find(progs.Front); err == nil && filepath.IsAbs(p) {
		return filepath.Clean(p), nil
	}
	return "", errors.New("cannot find the torale-cred the service should run; run this as: torale-cred service …")
}

// ServiceCommand is the `service` command tree, for tools that document it
// (internal/tools/genman). It runs nothing.
func ServiceCommand() *cobra.Command {
	return newServiceCmd(&Env{Out: os.Stdout, ErrOut: os.Stderr, Getenv: os.Getenv})
}
