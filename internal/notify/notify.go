// Package notify shows desktop notifications and asks desktop questions:
// org.freedesktop.Notifications on the D-Bus session bus on Linux,
// osascript on macOS, nothing elsewhere. Send never treats a missing
// notification server as an error; Ask reports it, so a caller can refuse.
// Neither ever puts anything secret in a notification, nor a character
// that could disguise one: titles and bodies go out escaped (safetext).
package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/torale-ai/torale-cred/internal/safetext"
)

// AppName is how notifications are signed.
const AppName = "torale-cred"

// Timeout bounds one notification when the caller's context has no
// deadline: a hung bus must not stall the daemon's reminders.
const Timeout = 5 * time.Second

// Send shows one notification with a title and a body. Both are escaped
// (safetext.Lines; on a server that reads markup, the body's markup
// characters too): they name programs and files that chose their own names.
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
	return send(ctx, safetext.Lines(title), safetext.Lines(body))
}

// Notify is Send for callers that only care about failures, such as the
// daemon's reminder: no notification server is not an error.
func Notify(ctx context.Context, title, body string) error {
	_, err := Send(ctx, title, body)
	return err
}

// Choice is one button of a question: Key is what Ask returns, Label what
// the user reads.
type Choice struct{ Key, Label string }

// ErrNoDesktop means nothing on this desktop can ask a question: no session
// bus, nothing owning org.freedesktop.Notifications, a server without the
// "actions" capability, no osascript, an unsupported OS, or a bus that did
// not answer within Timeout.
var ErrNoDesktop = errors.New("no desktop can ask")

// ErrNoAnswer means the question was asked, or was being asked, and nobody
// picked a choice: the context ended (a timeout), the notification was
// closed without a pick, or the pick was none of the choices.
var ErrNoAnswer = errors.New("no answer on the desktop")

// Ask shows a question with the choices as its buttons and waits for the
// user's pick. Nothing secret belongs in title or body: notifications are
// shown on lock screens and kept in histories. Title and body are escaped
// as Send escapes them.
//
// It returns the picked Choice.Key and a nil error; otherwise an error for
// which errors.Is reports ErrNoDesktop or ErrNoAnswer (wrapped with the
// reason, for a log line), and no other: a caller that must decide treats
// both as "no". It waits until ctx ends; without a deadline it waits for
// the user as long as it takes, and only reaching the desktop is bounded
// by Timeout. Choices must have distinct, non-empty keys and labels
// ("default", the spec's key for a click on the body, is not a choice);
// breaking that is a programming error, reported as neither sentinel.
func Ask(ctx context.Context, title, body string, choices []Choice) (string, error) {
	if err := checkChoices(choices); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoAnswer, err)
	}
	return ask(ctx, safetext.Lines(title), safetext.Lines(body), choices)
}

func checkChoices(choices []Choice) error {
	if len(choices) == 0 {
		return errors.New("notify.Ask: no choices")
	}
	keys := make(map[string]bool, len(choices))
	labels := make(map[string]bool, len(choices))
	for _, c := range choices {
		switch {
		case c.Key == "" || c.Label == "":
			return fmt.Errorf("notify.Ask: choice %+v has an empty key or label", c)
		case c.Key == "default":
			return errors.New(`notify.Ask: "default" is the key of a click on the notification, not a choice`)
		case keys[c.Key] || labels[c.Label]:
			return fmt.Errorf("notify.Ask: choice %+v repeats a key or a label", c)
		}
		keys[c.Key], labels[c.Label] = true, true
	}
	return nil
}
