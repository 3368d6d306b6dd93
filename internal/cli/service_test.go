//go:build linux || darwin

package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/torale-ai/torale-cred/internal/usersvc"
)

// `torale-cred service …` hands the whole command line, its streams and its
// environment (plus the path of torale-cred) to torale-cred-service and
// exits with its code.
func TestServiceExecsTheServiceProgram(t *testing.T) {
	if executableEnv != usersvc.ExecutableEnv {
		t.Fatalf("executableEnv %q differs from usersvc.ExecutableEnv %q", executableEnv, usersvc.ExecutableEnv)
	}
	prog := filepath.Join(t.TempDir(), "torale-cred-service")
	script := "#!/bin/sh\nprintf '%s\\n' \"$@\"\nread line\necho \"stdin=$line exe=$" + executableEnv + " mark=$TORALE_CRED_TEST_MARK\" >&2\nexit 7\n"
	if err := os.WriteFile(prog, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TORALE_CRED_TEST_MARK", "passed-on")
	getenv := func(k string) string {
		if k == serviceProgramEnv {
			return prog
		}
		return os.Getenv(k)
	}
	io, out, errOut := Test("hello\n")
	args := []string{"--profile", "work", "service", "status", "--json"}
	code := Run(context.Background(), args, io, getenv)
	self, _ := os.Executable()
	if code != 7 {
		t.Errorf("exit %d, want the service program's 7; stderr:\n%s", code, errOut)
	}
	if got := out.String(); got != strings.Join(args, "\n")+"\n" {
		t.Errorf("the service program got args %q, want %q", got, args)
	}
	if want := "stdin=hello exe=" + self + " mark=passed-on\n"; errOut.String() != want {
		t.Errorf("stderr %q, want %q", errOut.String(), want)
	}
}

func TestServiceWithoutTheServiceProgram(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	io, _, errOut := Test("")
	code := Run(context.Background(), []string{"service", "install"}, io, os.Getenv)
	if code != ExitFailure || !strings.Contains(errOut.String(), "torale-cred-service, which is not installed") {
		t.Errorf("exit %d:\n%s", code, errOut)
	}
}
