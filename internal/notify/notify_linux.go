//go:build linux

package notify

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
)

const (
	busName   = "org.freedesktop.Notifications"
	busPath   = "/org/freedesktop/Notifications"
	busMethod = busName + ".Notify"

	sigActionInvoked = busName + ".ActionInvoked"
	sigClosed        = busName + ".NotificationClosed"
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
	var caps []string
	err = conn.Object(busName, busPath).CallWithContext(ctx, busName+".GetCapabilities", 0).Store(&caps)
	if err != nil && noServer(err) {
		return false, nil
	}
	body = forServer(caps, err == nil, body)
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

// forServer is body as the server will show it: a server with
// "body-markup" reads <b>, <a href>, <img> and entities in a body, so a
// program named "<a href=…>" could dress its name up; its markup
// characters are written as entities. known false: the capabilities could
// not be read, and markup is assumed.
func forServer(caps []string, known bool, body string) string {
	if known && !slices.Contains(caps, "body-markup") {
		return body
	}
	return markupEscaper.Replace(body)
}

var markupEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

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

// ask is a notification with actions. The order matters: the signal match
// is on the bus before Notify is sent, so an answer that beats Notify's
// reply is still heard.
func ask(ctx context.Context, title, body string, choices []Choice) (string, error) {
	// The connection outlives ctx, so a question whose time is up can
	// still be taken off the screen; closeConn ends it.
	life, closeConn := context.WithCancel(context.WithoutCancel(ctx))
	defer closeConn()
	conn, err := dbus.SessionBusPrivateNoAutoStartup(dbus.WithContext(life))
	if err != nil {
		return "", fmt.Errorf("%w: no session bus: %w", ErrNoDesktop, err)
	}
	defer conn.Close()

	// Reaching the server is bounded even when the wait for the user is
	// not: a hung bus closes the connection, which unblocks Auth and Hello.
	setup, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	stopWatch := context.AfterFunc(setup, closeConn)
	fail := func(what string, err error) (string, error) {
		if ctx.Err() != nil {
			return "", fmt.Errorf("%w: %w (while %s)", ErrNoAnswer, ctx.Err(), what)
		}
		return "", fmt.Errorf("%w: %s: %w", ErrNoDesktop, what, err)
	}
	if err := conn.Auth(nil); err != nil {
		return fail("authenticating to the session bus", err)
	}
	if err := conn.Hello(); err != nil {
		return fail("greeting the session bus", err)
	}

	var caps []string
	if err := conn.Object(busName, busPath).CallWithContext(setup, busName+".GetCapabilities", 0).Store(&caps); err != nil {
		if noServer(err) {
			return "", fmt.Errorf("%w: nothing owns %s", ErrNoDesktop, busName)
		}
		return fail("asking the notification server's capabilities", err)
	}
	if !slices.Contains(caps, "actions") {
		return "", fmt.Errorf("%w: the notification server shows no buttons (capabilities %q)", ErrNoDesktop, caps)
	}
	// Only the server's own signals count: any program of this user can
	// send a signal straight to this connection, past the match rules.
	var owner string
	if err := conn.BusObject().CallWithContext(setup, "org.freedesktop.DBus.GetNameOwner", 0, busName).Store(&owner); err != nil {
		return fail("looking up the notification server", err)
	}
	for _, member := range []string{"ActionInvoked", "NotificationClosed"} {
		if err := conn.AddMatchSignalContext(setup, dbus.WithMatchSender(busName),
			dbus.WithMatchObjectPath(busPath), dbus.WithMatchInterface(busName), dbus.WithMatchMember(member)); err != nil {
			return fail("subscribing to "+member, err)
		}
	}
	signals := make(chan *dbus.Signal, 16)
	conn.Signal(signals)
	body = forServer(caps, true, body)

	actions := make([]string, 0, 2*len(choices))
	for _, c := range choices {
		actions = append(actions, c.Key, c.Label)
	}
	hints := map[string]dbus.Variant{
		"urgency":       dbus.MakeVariant(byte(2)), // critical: stays until answered
		"resident":      dbus.MakeVariant(true),    // ask closes it itself, once
		"desktop-entry": dbus.MakeVariant(AppName),
	}
	var id uint32
	if err := conn.Object(busName, busPath).CallWithContext(setup, busMethod, 0,
		AppName, uint32(0), "dialog-password", title, body, actions, hints, expireTimeout(ctx)).Store(&id); err != nil {
		return fail("showing the question", err)
	}
	if !stopWatch() {
		// The watch fired as Notify returned: the connection is gone.
		return fail("showing the question", errors.New("the session bus did not answer in time"))
	}

	closeIt := func() {
		// Best effort, on the connection's own life: ctx may be over.
		cctx, cancel := context.WithTimeout(life, time.Second)
		defer cancel()
		_ = conn.Object(busName, busPath).CallWithContext(cctx, busName+".CloseNotification", 0, id).Err
	}
	for {
		select {
		case <-ctx.Done():
			closeIt()
			return "", fmt.Errorf("%w: %w", ErrNoAnswer, ctx.Err())
		case sig, ok := <-signals:
			if !ok {
				return "", fmt.Errorf("%w: the session bus went away", ErrNoAnswer)
			}
			if sig.Sender != owner || sig.Path != busPath {
				continue
			}
			var got uint32
			switch sig.Name {
			case sigActionInvoked:
				var key string
				if dbus.Store(sig.Body, &got, &key) != nil || got != id {
					continue
				}
				closeIt() // resident: it stays until its sender removes it
				return picked(choices, key)
			case sigClosed:
				if len(sig.Body) == 0 || dbus.Store(sig.Body[:1], &got) != nil || got != id {
					continue
				}
				return "", fmt.Errorf("%w: the notification was closed without a pick", ErrNoAnswer)
			}
		}
	}
}

// expireTimeout is what is left of ctx in milliseconds, rounded up, or 0
// (never expire) when ctx has no deadline.
func expireTimeout(ctx context.Context) int32 {
	deadline, ok := ctx.Deadline()
	if !ok {
		return 0
	}
	ms := (time.Until(deadline) + time.Millisecond - 1) / time.Millisecond
	return int32(max(1, min(ms, math.MaxInt32)))
}

// picked maps what the desktop returned to a choice's key.
func picked(choices []Choice, key string) (string, error) {
	for _, c := range choices {
		if c.Key == key {
			return key, nil
		}
	}
	return "", fmt.Errorf("%w: the desktop returned %q, which is none of the choices", ErrNoAnswer, key)
}
