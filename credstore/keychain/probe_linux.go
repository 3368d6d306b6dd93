//go:build linux

package keychain

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/godbus/dbus/v5"

	"github.com/torale-ai/torale-cred/internal/paths"
)

const (
	secretsName       = "org.freedesktop.secrets"
	secretsPath       = "/org/freedesktop/secrets"
	loginCollection   = "/org/freedesktop/secrets/collection/login"
	defaultCollection = "/org/freedesktop/secrets/aliases/default"
)

// probeKeychain tells apart the ways the Secret Service can be missing
// before go-keyring is let near it: go-keyring would make godbus spawn
// dbus-launch when no bus is configured, and would wait forever on an unlock
// prompt when the collection is locked. The usual case, an unlocked login
// collection, costs one call (is it locked?); the calls that say what is
// missing are made only when that one fails.
func probeKeychain(ctx context.Context, allowPrompt bool) error {
	if !useSessionBus() {
		return &Error{Fault: FaultUnavailable,
			Reason: "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set, and no bus of yours is in $XDG_RUNTIME_DIR or /run/user/" + strconv.Itoa(os.Getuid()) + ")",
			Fix:    noSessionFix(secretServiceFix)}
	}
	conn, err := dbus.SessionBus()
	if err != nil {
		return &Error{Fault: FaultUnavailable, Reason: "cannot connect to the D-Bus session bus: " + err.Error(), Fix: secretServiceFix}
	}
	if !allowPrompt {
		// Without auto-start: a Secret Service that is not running yet is
		// the slow path's to find and start.
		var locked dbus.Variant
		err := conn.Object(secretsName, loginCollection).CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", dbus.FlagNoAutoStart,
			"org.freedesktop.Secret.Collection", "Locked").Store(&locked)
		if err == nil {
			return lockedError(locked)
		}
	}
	bus := conn.BusObject()
	var owned bool
	if err := bus.CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, secretsName).Store(&owned); err != nil {
		return fmt.Errorf("asking the session bus for the Secret Service: %w", err)
	}
	if !owned {
		var names []string
		if err := bus.CallWithContext(ctx, "org.freedesktop.DBus.ListActivatableNames", 0).Store(&names); err != nil {
			return fmt.Errorf("asking the session bus for the Secret Service: %w", err)
		}
		if !contains(names, secretsName) {
			return &Error{Fault: FaultUnavailable, Reason: "no Secret Service (org.freedesktop.secrets) on the session bus", Fix: secretServiceFix}
		}
		return nil // D-Bus will start it; go-keyring's own calls are bounded
	}
	if allowPrompt {
		return nil
	}
	svc := conn.Object(secretsName, secretsPath)
	var cols dbus.Variant
	if err := svc.CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, "org.freedesktop.Secret.Service", "Collections").Store(&cols); err != nil {
		return fmt.Errorf("listing keychain collections: %w", err)
	}
	path := dbus.ObjectPath(defaultCollection)
	if paths, ok := cols.Value().([]dbus.ObjectPath); ok {
		for _, p := range paths {
			if p == loginCollection {
				path = loginCollection
			}
		}
	}
	var locked dbus.Variant
	if err := conn.Object(secretsName, path).CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, "org.freedesktop.Secret.Collection", "Locked").Store(&locked); err != nil {
		return &Error{Fault: FaultUnavailable, Reason: "the Secret Service has no login or default collection: " + err.Error(), Fix: secretServiceFix}
	}
	return lockedError(locked)
}

// lockedError is FaultLocked when a collection's Locked property says so.
func lockedError(locked dbus.Variant) error {
	if l, ok := locked.Value().(bool); ok && l {
		reason := "the login collection must be unlocked before torale-cred can read it"
		if outsideSession() {
			reason = "the login collection is locked (outside a login session, once you log out, it stays locked)"
		}
		return &Error{Fault: FaultLocked, Reason: reason, Fix: noSessionFix(unlockFix)}
	}
	return nil
}

// useSessionBus gives godbus, through which go-keyring reaches the Secret
// Service, the session bus paths.SessionBus finds when
// DBUS_SESSION_BUS_ADDRESS is unset (a cron job, a systemd timer, an su
// shell): godbus itself would look only in /run/user/UID, without asking
// whose it is, and would otherwise start a bus of its own with dbus-launch.
// It reports whether there is a bus; the address it set is SetSessionBus's.
func useSessionBus() bool {
	if a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" && a != "autolaunch:" {
		return true
	}
	a := paths.SessionBus(os.Getenv)
	if a == "" {
		return false
	}
	if os.Setenv("DBUS_SESSION_BUS_ADDRESS", a) != nil {
		return false
	}
	setSessionBus.Store(a)
	return true
}

// outsideSession: no XDG_RUNTIME_DIR, as for cron jobs, systemd timers and
// su shells, whose keychain is reachable only while a login session keeps
// it running and unlocked.
func outsideSession() bool { return os.Getenv("XDG_RUNTIME_DIR") == "" }

// noSessionFix is fix, preceded by what works outside a login session.
func noSessionFix(fix string) string {
	if !outsideSession() {
		return fix
	}
	return headlessFix + "; or " + fix
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
