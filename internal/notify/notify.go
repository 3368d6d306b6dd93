// Package notify shows desktop notifications: org.freedesktop.Notifications
// on the D-Bus session bus on Linux, osascript on macOS, nothing elsewhere.
// It never treats a missing notification server as an error and never puts
// anything secret in a notification.
package notify

import (
	"context"
	"time"
)

// AppName is how notifications are signed.
const AppName = "torale-cred"

// Timeout bounds one notification when the caller's context has no
// deadline: a hung bus must not stall the daemon's reminders.
const Timeout = 5 * time.Second

// Send shows one notification with a title and a body.
//
// It returns (true, nil) when a notification server took it, (false, nil)
// when there is none to take it (no session bus, nothing owning
// org.freedesktop.Notifications, no osascript, an unsupported OS), and
// (false, err) when the server was there but the call failed.
func Send(ctx context.Context, title, body string) (bool, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, Timeout)
		defer cancel()
	}
	return send(ctx, title, body)
}

// Notify is Send for callers that only care about failures, such as the
// daemon's reminder: no notification server is not an error.
func Notify(ctx context.Context, title, body string) error {
	_, err := Send(ctx, title, body)
	return err
}
