//go:build !race

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

	"github.com/torale-ai/torale-cred/internal/proctest"
	"github.com/torale-ai/torale-cred/internal/testkeyring"
)

// TestMain puts the shipped programs (proctest.Programs: make build's, or
// built for this run) first on PATH, so scripts and tests run them as
// users do. Not the race-built test binary: each of the scripts' 300
// commands was a race-instrumented start-up, 63 s of CPU for this package
// (24 s now). The code under them is race-tested in process by
// internal/cli, daemon, credstore and ipc; these test what a user runs.
func TestMain(m *testing.M) {
	os.Exit(proctest.WithPrograms(func(bin string) int { return runWithPrograms(m, bin) }))
}

func runWithPrograms(m *testing.M, bin string) int {
	if err := os.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// Every test here is parallel: its own HOME, runtime dir, keychain
	// service name and daemon, and no change to this process. The default
	// -test.parallel, GOMAXPROCS (2 here), leaves a core idle while a
	// script waits on a daemon; more than 4 only adds CPU.
	if err := proctest.SetParallel(4); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return m.Run()
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
