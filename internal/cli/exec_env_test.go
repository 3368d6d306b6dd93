package cli

import (
	"slices"
	"testing"
)

// exec's command gets the environment torale-cred was given: not a
// session bus address torale-cred found and set only to reach the keychain.
func TestExecEnvironOmitsFoundBus(t *testing.T) {
	env := []string{"HOME=/h", "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1/bus", "PATH=/bin"}
	if got := withoutBus(env, ""); !slices.Equal(got, env) {
		t.Errorf("no bus set by torale-cred: %q, want %q", got, env)
	}
	if got, want := withoutBus(env, "unix:path=/run/user/1/bus"), []string{"HOME=/h", "PATH=/bin"}; !slices.Equal(got, want) {
		t.Errorf("the bus torale-cred set: %q, want %q", got, want)
	}
}
