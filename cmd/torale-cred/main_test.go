package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/torale-ai/torale-cred/internal/cli"
	"github.com/torale-ai/torale-cred/internal/testkeyring"
)

// TestMain registers the real mains so scripts run them as users do.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"torale-cred": func() { os.Exit(cli.Main()) },
	})
}

// TestScripts runs testdata/*.txtar, each in its own HOME and with its own
// keychain service name, against the real Secret Service.
func TestScripts(t *testing.T) {
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
			for _, k := range []string{"DBUS_SESSION_BUS_ADDRESS", "GNOME_KEYRING_CONTROL"} {
				env.Setenv(k, os.Getenv(k))
			}
			return nil
		},
		Condition: func(cond string) (bool, error) {
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
