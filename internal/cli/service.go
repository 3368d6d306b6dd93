package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/spf13/cobra"
)

// serviceProgram is the program that runs `torale-cred service …`
// (internal/usersvc, cmd/torale-cred-service). The service library probes
// the system when it initialises, so it lives in a program of its own and
// every other command neither links nor initialises it.
const serviceProgram = "torale-cred-service"

// serviceProgramEnv names another torale-cred-service (tests).
const serviceProgramEnv = "TORALE_CRED_SERVICE_PROGRAM"

// executableEnv is usersvc.ExecutableEnv, spelt out: importing usersvc
// would link the service library into torale-cred (service_test.go checks
// the two agree).
const executableEnv = "TORALE_CRED_EXECUTABLE"

// newServiceCmd hands `service …` with the whole command line (args, as
// given to Run), the environment and the standard streams to
// torale-cred-service, which parses it as torale-cred would, and passes
// its exit code on.
func newServiceCmd(f *Factory, args []string) *cobra.Command {
	return &cobra.Command{
		Use:   "service",
		Short: "Install, start, stop or remove the per-user service (systemd, launchd)",
		Long: `Runs 'torale-cred daemon' as a per-user service: service install, uninstall,
start, stop and status (see 'torale-cred service --help').`,
		// Flags, help and usage errors are torale-cred-service's.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			prog, err := findServiceProgram(f.Getenv)
			if err != nil {
				return err
			}
			self, err := os.Executable()
			if err != nil {
				return fmt.Errorf("finding torale-cred's own path for the service: %w", err)
			}
			c := exec.Command(prog, args...)
			c.Env = append(os.Environ(), executableEnv+"="+self)
			c.Stdin, c.Stdout, c.Stderr = f.IO.In, f.IO.Out, f.IO.ErrOut
			err = c.Run()
			var ee *exec.ExitError
			switch {
			case err == nil:
				return nil
			case errors.As(err, &ee) && ee.ExitCode() >= 0:
				return &ExitCodeError{Code: ee.ExitCode()}
			}
			return fmt.Errorf("running %s: %w", prog, err)
		},
	}
}

// findServiceProgram looks for torale-cred-service beside this torale-cred
// (bin/, go install), where the packages put it (/usr/lib/torale-cred/,
// Homebrew's libexec/), both for the path torale-cred was run by and the
// file it links to, then on PATH.
func findServiceProgram(getenv func(string) string) (string, error) {
	if p := getenv(serviceProgramEnv); p != "" {
		return p, nil
	}
	name := serviceProgram
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	var dirs []string
	if self, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Dir(self))
		if real, err := filepath.EvalSymlinks(self); err == nil && filepath.Dir(real) != dirs[0] {
			dirs = append(dirs, filepath.Dir(real))
		}
	}
	var looked []string
	for _, d := range dirs {
		for _, p := range []string{
			filepath.Join(d, name),
			filepath.Join(d, "..", "lib", "torale-cred", name),
			filepath.Join(d, "..", "libexec", "torale-cred", name),
			filepath.Join(d, "..", "libexec", name),
		} {
			p = filepath.Clean(p)
			looked = append(looked, p)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
				return p, nil
			}
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("the service commands are in %s, which is not installed with this torale-cred (looked in %v and on PATH); reinstall torale-cred, or build it: CGO_ENABLED=0 go install ./cmd/%s", name, looked, serviceProgram)
}
