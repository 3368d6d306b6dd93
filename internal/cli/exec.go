package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"strings"

	"github.com/spf13/cobra"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/internal/harden"
)

func newExecCmd(f *Factory) *cobra.Command {
	var apiKey string
	cmd := &cobra.Command{
		Use: "exec [--profile NAME] [--api-key KEY] -- COMMAND [ARG...]",
		// The Use line already shows the flags that matter.
		DisableFlagsInUseLine: true,
		Short:                 "Run a command with TORALE_API_KEY and TORALE_API_URL set",
		Long: `Runs COMMAND with TORALE_API_KEY and TORALE_API_URL set to the key and URL
Torale's rule picks (--api-key, then TORALE_API_KEY, then the key stored for
the profile), so the official Torale CLI and SDK work unchanged and the key
never appears on a command line or in a file.

Standard input, output and error are the command's own; SIGINT, SIGTERM,
SIGHUP and SIGQUIT are passed on to it; torale-cred exits with the command's
exit status (128+N when signal N ended it, 127 when the command is not found,
126 when it cannot be run). With TORALE_NOAUTH=1 and no key, the command runs
with TORALE_API_KEY unset.`,
		Example: `  torale-cred exec -- python3 -c 'from torale import Torale; print(Torale().tasks.list())'
  torale-cred exec --profile work -- python3 sync.py
  torale-cred exec -- sh -c 'printf "Authorization: Bearer %s\n" "$TORALE_API_KEY" | curl -H @- "$TORALE_API_URL/auth/me"'

(In the curl example the key goes to curl on its standard input: printf is
the shell's built-in, so the key never appears in a command line, which
every user can read in /proc/*/cmdline.)`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf(msgExecNoCommand)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runExec(cmd, f, apiKey, args) },
	}
	// Everything after the command's name is the command's: `exec torale
	// task list --json` must not parse --json here.
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().StringVar(&apiKey, "api-key", "", "a key that takes precedence over everything else (as the official CLI's flag)")
	return cmd
}

func runExec(cmd *cobra.Command, f *Factory, apiKey string, args []string) error {
	r, err := f.lookup(cmd.Context(), credstore.DoorExec, apiKey)
	if err != nil {
		return err
	}
	// This process holds the key for the command's whole life: no
	// debugger, /proc/PID/mem or core of it for the user's other
	// processes, as for the daemon. Only now, not before the look-up: the
	// daemon names its caller by /proc/PID/exe, which a process that is
	// not dumpable hides from it too (it would see a nameless caller, not
	// torale-cred's exec door, and a policy would refuse it). Not
	// inherited: the command is dumpable again once executed.
	if err := harden.NoDump(); err != nil {
		f.warn(msgExecDumpable, err)
	}

	path, err := exec.LookPath(args[0])
	if err != nil {
		return commandError(args[0], err)
	}
	child := &exec.Cmd{
		Path:   path,
		Args:   args,
		Env:    childEnv(environ(), r),
		Stdin:  f.IO.In,
		Stdout: f.IO.Out,
		Stderr: f.IO.ErrOut,
	}
	// Catch the signals before starting the child, so none arriving in
	// between can kill torale-cred and orphan it.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, forwardedSignals...)
	defer signal.Stop(sigs)
	if err := child.Start(); err != nil {
		return commandError(args[0], err)
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				if shouldForward(s) {
					_ = child.Process.Signal(s)
				}
			case <-done:
				return
			}
		}
	}()
	err = child.Wait()
	close(done)
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return &ExitCodeError{Code: exitStatus(ee.ProcessState)}
		}
		return fmt.Errorf(msgRunning, args[0], err)
	}
	return nil
}

// environ is this process's environment as it was given: without the
// session bus address torale-cred put there itself to reach the keychain
// (keychain.SetSessionBus), which the command did not ask for.
func environ() []string { return withoutBus(os.Environ(), keychain.SetSessionBus()) }

// withoutBus is env without DBUS_SESSION_BUS_ADDRESS=bus (bus "": env).
func withoutBus(env []string, bus string) []string {
	if bus == "" {
		return env
	}
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if kv != "DBUS_SESSION_BUS_ADDRESS="+bus {
			out = append(out, kv)
		}
	}
	return out
}

// childEnv is env with the resolved key and URL in place of any earlier
// TORALE_API_KEY / TORALE_API_URL; with no key (TORALE_NOAUTH=1) the key
// variable is left out altogether.
func childEnv(env []string, r credstore.Resolution) []string {
	out := make([]string, 0, len(env)+2)
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if envNameIs(name, "TORALE_API_KEY") || envNameIs(name, "TORALE_API_URL") {
			continue
		}
		out = append(out, kv)
	}
	if r.Key != "" {
		out = append(out, "TORALE_API_KEY="+r.Key)
	}
	return append(out, "TORALE_API_URL="+r.URL)
}

// commandError words a command that could not be started as a shell
// does; exitCode gives 127 when it is not found, 126 when it is found but
// cannot be run.
func commandError(name string, err error) error {
	var ee *exec.Error
	switch {
	case errors.Is(err, exec.ErrDot):
		return &notFoundError{name: name, err: err, hint: fmt.Sprintf(msgExecOnlyInDot, name)}
	case errors.Is(err, fs.ErrPermission):
		return &cannotRunError{name: name, why: msgExecNoPermission}
	case errors.As(err, &ee):
		return &notFoundError{name: name, err: err, hint: msgExecNotFound}
	}
	return &cannotRunError{name: name, why: fmt.Sprintf(msgExecCannotRun, err)}
}

// notFoundError is a command exec could not find; it wraps the
// *exec.Error, which exitCode maps to 127.
type notFoundError struct {
	name, hint string
	err        error
}

func (e *notFoundError) Error() string { return e.name + ": " + e.hint }
func (e *notFoundError) Unwrap() error { return e.err }

// cannotRunError is a command exec found but could not run (exit 126). It
// wraps nothing: a permission error from LookPath is an *exec.Error too,
// which would read as "not found".
type cannotRunError struct{ name, why string }

func (e *cannotRunError) Error() string { return e.name + ": " + e.why }
