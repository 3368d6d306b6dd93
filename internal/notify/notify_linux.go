//go:build linux

package notify

import (
	"context"
	"errors"
	"fmt"

	"github.com/godbus/dbus/v5"
)

const (
	busName   = "org.freedesktop.Notifications"
	busPath   = "/org/freedesktop/Notifications"
	busMethod = busName + ".Notify"
)

func send(ctx context.Context, title, body string) (bool, error) {
	// A private connection, closed afterwards: a notification a day does
	// not justify holding the bus, and the shared one is the keychain's.
	// No autolaunch: dbus-launch would start a bus nobody watches.
	conn, err := dbus.SessionBusPrivateNoAutoStartup(dbus.WithContext(ctx))
	if err != nil {
		return false, nil // no session bus: nowhere to notify
	}
	if err := conn.Auth(nil); err != nil {
		conn.Close()
		return false, nil
	}
	if err := conn.Hello(); err != nil {
		conn.Close()
		return false, nil
	}
	defer conn.Close()
	hints := map[string]dbus.Variant{
		"urgency":       dbus.MakeVariant(byte(1)), // normal
		"desktop-entry": dbus.MakeVariant(AppName),
	}
	var id uint32
	call := conn.Object(busName, busPath).CallWithContext(ctx, busMethod, 0,
		AppName, uint32(0), "dialog-password", title, body, []string{}, hints, int32(-1))
	if err := call.Store(&id); err != nil {
		if noServer(err) {
			return false, nil
		}
		return false, fmt.Errorf("desktop notification: %w", err)
	}
	return true, nil
}

// noServer reports the bus's ways of saying nobody serves the name.
func noServer(err error) bool {
	var de dbus.Error
	var dp *dbus.Error
	var name string
	switch {
	case errors.As(err, &de):
		name = de.Name
	case errors.As(err, &dp):
		name = dp.Name
	}
	switch name {
	case "org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner",
		"org.freedesktop.DBus.Error.Spawn.ServiceNotFound", "org.freedesktop.DBus.Error.Spawn.ExecFailed",
		"org.freedesktop.DBus.Error.Spawn.ChildExited":
		return true
	}
	return false
}
