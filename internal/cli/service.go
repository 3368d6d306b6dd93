package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/torale-ai/torale-cred/internal/progs"
)

// serviceProgram is the program that runs `torale-cred service …`
// (internal/usersvc, cmd/torale-cred-service). The service library probes
// the system when it initialises, so it lives in a program of its own and
// every other command neither links nor initialises it.
const serviceProgram = progs.Service

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
			self, err := frontPath(f.Getenv)
			if err != nil {
				return err
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

// frontPath is the torale-cred the user ran, which the service unit runs:
// the lean front that execed this CLI (progs.FrontEnv), else this program.
func frontPath(getenv func(string) string) (string, error) {
	if p := getenv(progs.FrontEnv); filepath.IsAbs(p) {
		return p, nil
	}
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding torale-cred's own path for the service: %w", err)
	}
	return self, nil
}

// findServiceProgram looks for torale-cred-service where progs puts it
// beside this program (bin/, go install, /usr/lib/torale-cred/, Homebrew's
// libexec/), then on PATH.
func findServiceProgram(getenv func(string) string) (string, error) {
	if p := getenv(serviceProgramEnv); p != "" {
		return p, nil
	}
	p, err := progs.Find(progs.Service)
	var nf *progs.NotFoundError
	if errors.As(err, &nf) {
		return "", fmt.Errorf("the service commands are in %s, which is not installed with this torale-cred (looked in %v and on PATH); reinstall torale-cred, or build it: CGO_ENABLED=0 go install ./cmd/%s", nf.Name, nf.Looked, serviceProgram)
	}
	return p, err
}
