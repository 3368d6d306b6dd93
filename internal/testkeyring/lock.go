package testkeyring

import (
	"errors"
	"fmt"
	"testing"

	"github.com/godbus/dbus/v5"
)

const (
	secretsName     = "org.freedesktop.secrets"
	secretsPath     = "/org/freedesktop/secrets"
	loginCollection = "/org/freedesktop/secrets/collection/login"
)

// secret is the Secret Service's (oayays) struct.
type secret struct {
	Session     dbus.ObjectPath
	Parameters  []byte
	Value       []byte
	ContentType string
}

// Lock locks the login collection of the Secret Service on bus, as a
// screen lock or `secret-tool lock` would (org.freedesktop.Secret.Service.
// Lock, which gnome-keyring answers without a prompt).
func Lock(t testing.TB, bus string) {
	t.Helper()
	conn := connect(t, bus)
	defer conn.Close()
	var locked []dbus.ObjectPath
	var prompt dbus.ObjectPath
	err := conn.Object(secretsName, secretsPath).Call("org.freedesktop.Secret.Service.Lock", 0,
		[]dbus.ObjectPath{loginCollection}).Store(&locked, &prompt)
	if err != nil {
		t.Fatalf("locking the login collection: %v", err)
	}
	if prompt != "/" || len(locked) != 1 {
		t.Fatalf("locking the login collection: locked %v, prompt %s (want it locked without a prompt)", locked, prompt)
	}
	if l, err := Locked(bus); err != nil || !l {
		t.Fatalf("the login collection after Lock: locked %v, %v", l, err)
	}
}

// Unlock unlocks the login collection with its password, without a
// prompt (gnome-keyring's UnlockWithMasterPassword, which its own
// daemon --unlock and seahorse use), as a user typing it at the desktop's
// prompt would.
func Unlock(t testing.TB, bus, password string) {
	t.Helper()
	conn := connect(t, bus)
	defer conn.Close()
	var out dbus.Variant
	var session dbus.ObjectPath
	svc := conn.Object(secretsName, secretsPath)
	if err := svc.Call("org.freedesktop.Secret.Service.OpenSession", 0, "plain", dbus.MakeVariant("")).Store(&out, &session); err != nil {
		t.Fatalf("opening a Secret Service session: %v", err)
	}
	master := secret{Session: session, Parameters: []byte{}, Value: []byte(password), ContentType: "text/plain"}
	if err := svc.Call("org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface.UnlockWithMasterPassword", 0,
		dbus.ObjectPath(loginCollection), master).Err; err != nil {
		t.Fatalf("unlocking the login collection: %v", err)
	}
	if l, err := Locked(bus); err != nil || l {
		t.Fatalf("the login collection after unlocking: locked %v, %v", l, err)
	}
}

// Locked reports whether the login collection on bus is locked.
func Locked(bus string) (bool, error) {
	conn, err := dial(bus)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	v, err := conn.Object(secretsName, loginCollection).GetProperty("org.freedesktop.Secret.Collection.Locked")
	if err != nil {
		return false, err
	}
	l, ok := v.Value().(bool)
	if !ok {
		return false, errors.New("the Locked property is not a boolean")
	}
	return l, nil
}

func connect(t testing.TB, bus string) *dbus.Conn {
	t.Helper()
	conn, err := dial(bus)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// dial is a private connection to bus (never the process's shared
// session bus, which may be another one).
func dial(bus string) (*dbus.Conn, error) {
	conn, err := dbus.Connect(bus)
	if err != nil {
		return nil, fmt.Errorf("connecting to the D-Bus at %s: %w", bus, err)
	}
	return conn, nil
}
