package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/torale-ai/torale-cred/internal/cli"
	"github.com/torale-ai/torale-cred/internal/proctest"
	"github.com/torale-ai/torale-cred/internal/testkeyring"
)

// TestMain registers the real mains so scripts run them as users do.
// testscript.Main runs one of them when the binary is called by its name,
// and the tests (moreParallel's Run) otherwise.
func TestMain(m *testing.M) {
	testscript.Main(moreParallel{m}, map[string]func(){
		"torale-cred":           func() { os.Exit(cli.Main()) },
		"git-credential-torale": func() { os.Exit(cli.GitCredentialMain()) },
	})
}

// testParallel is how many scripts and tests run at once when go test is
// not given -parallel. The default, GOMAXPROCS (2 here), leaves a core
// idle while a script waits on a daemon; more than 4 only adds CPU: each
// command a script runs is a start of this (race-built) test binary.
const testParallel = 4

// moreParallel raises -test.parallel to testParallel, unless given, before
// the tests run. Every test here is parallel: its own HOME, runtime dir,
// keychain service name and daemon, and no change to this process.
type moreParallel struct{ m *testing.M }

func (p moreParallel) Run() int {
	if err := proctest.SetParallel(testParallel); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return p.m.Run()
}

// TestScripts runs testdata/*.txtar, each in its own HOME and with its own
// keychain service name, against the real Secret Service.
func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			home := filepath.Join(env.WorkDir, "home")
			run := filepath.Join(env.WorkDir, "run")
			for _, d := range []string{home, run} {
				if err := os.MkdirAll(d, 0o700); err != nil {
					return err
				}
			}
			env.Setenv("HOME", home)
			env.Setenv("XDG_RUNTIME_DIR", run)
			env.Setenv("XDG_STATE_HOME", filepath.Join(home, ".local", "state"))
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
			env.Setenv("TORALE_CRED_KEYCHAIN_SERVICE", testkeyring.Service())
			// Test keys never go to the real Torale API (the daemon's
			// created_at look-up).
			env.Setenv("TORALE_CRED_OFFLINE", "1")
			for _, k := range []string{"DBUS_SESSION_BUS_ADDRESS", "GNOME_KEYRING_CONTROL"} {
				env.Setenv(k, os.Getenv(k))
			}
			// For scripts that stand in for /run/user/UID and its bus.
			env.Setenv("TEST_UID", strconv.Itoa(os.Getuid()))
			env.Setenv("TEST_BUS_SOCKET", busSocket())
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// exits CODE CMD ARGS…: runs CMD and checks its exact exit code,
			// which `exec`/`! exec` cannot tell apart.
			"exits": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 2 {
					ts.Fatalf("usage: exits CODE CMD [ARGS…]")
				}
				want, err := strconv.Atoi(args[0])
				if err != nil {
					ts.Fatalf("exits: bad code %q", args[0])
				}
				got := 0
				if err := ts.Exec(args[1], args[2:]...); err != nil {
					var ee *exec.ExitError
					if !errors.As(err, &ee) {
						ts.Fatalf("exits: %v", err)
					}
					got = ee.ExitCode()
				}
				if got != want {
					ts.Fatalf("%s exited %d, want %d", args[1], got, want)
				}
			},
		},
		Condition: func(cond string) (bool, error) {
			if cond == "buspath" { // the test bus is a socket file a link can name
				return busSocket() != "", nil
			}
			if cond == "keyring" {
				if !testkeyring.Available() && (os.Getenv("CI") != "" || os.Getenv("TORALE_CRED_REQUIRE_KEYRING") == "1") {
					t.Fatal("no test Secret Service: run the tests through `make test`")
				}
				return testkeyring.Available(), nil
			}
			return false, nil
		},
	})
}

// busSocket is the test session bus's socket file, when its address names
// one (unix:path=…), else "".
func busSocket() string {
	a, ok := strings.CutPrefix(os.Getenv("DBUS_SESSION_BUS_ADDRESS"), "unix:path=")
	if !ok {
		return ""
	}
	a, _, _ = strings.Cut(a, ",")
	if strings.Contains(a, "%") {
		return "" // escaped: not worth unescaping for a test
	}
	return a
}
