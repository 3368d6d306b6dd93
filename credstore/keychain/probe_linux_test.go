package keychain

import (
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"
)

// A keychain locked for a process outside a login session (cron, a timer,
// su) says so and names what works there, beside the unlock recipe.
func TestLockedOutsideSession(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", "")
	err := lockedError(dbus.MakeVariant(true))
	for _, want := range []string{"the keychain is locked", "outside a login session", "torale-cred service install", "unlock it"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("locked outside a session: %v; want it to say %q", err, want)
		}
	}
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	if err := lockedError(dbus.MakeVariant(true)); err == nil || strings.Contains(err.Error(), "outside a login session") {
		t.Errorf("locked inside a session: %v; want the unlock recipe alone", err)
	}
}
