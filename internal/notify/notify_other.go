//go:build !linux && !darwin

package notify

import "context"

// send has no desktop to talk to here; the log line is the reminder.
func send(context.Context, string, string) (bool, error) { return false, nil }

// ask has no desktop to ask here.
func ask(context.Context, string, string, []Choice) (string, error) {
	return "", ErrNoDesktop
}
