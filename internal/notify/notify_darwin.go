//go:build darwin

package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"time"
)

// script reads title and body from argv, so no text is ever spliced into
// AppleScript source.
var script = []string{
	"-e", "on run argv",
	"-e", "display notification (item 2 of argv) with title (item 1 of argv)",
	"-e", "end run",
}

func send(ctx context.Context, title, body string) (bool, error) {
	path, err := exec.LookPath("osascript")
	if err != nil {
		return false, nil
	}
	args := append(append([]string{}, script...), title, body)
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return false, fmt.Errorf("desktop notification: osascript: %s", firstLine(out))
		}
		return false, fmt.Errorf("desktop notification: %w", err)
	}
	return true, nil
}

// askScript reads everything from argv too: title, body, the seconds to
// wait (0: no limit), then the button labels. It prints the label picked,
// or nothing when the dialog gave up. No button is the default, so a
// stray Return answers nothing. (A button labelled "Cancel" would be the
// dialog's cancel button and end in error -128, which is no answer.)
var askScript = []string{
	"-e", "on run argv",
	"-e", "set labels to items 4 thru -1 of argv",
	"-e", "set secs to (item 3 of argv) as integer",
	"-e", "if secs is 0 then",
	"-e", "return button returned of (display dialog (item 2 of argv) with title (item 1 of argv) buttons labels)",
	"-e", "end if",
	"-e", "set r to display dialog (item 2 of argv) with title (item 1 of argv) buttons labels giving up after secs",
	"-e", "if gave up of r then return \"\"",
	"-e", "return button returned of r",
	"-e", "end run",
}

// maxButtons is what display dialog holds.
const maxButtons = 3

func ask(ctx context.Context, title, body string, choices []Choice) (string, error) {
	if len(choices) > maxButtons {
		return "", fmt.Errorf("%w: a macOS dialog holds at most %d buttons, not %d", ErrNoDesktop, maxButtons, len(choices))
	}
	path, err := exec.LookPath("osascript")
	if err != nil {
		return "", fmt.Errorf("%w: no osascript: %w", ErrNoDesktop, err)
	}
	secs := 0
	if deadline, ok := ctx.Deadline(); ok {
		secs = int(max(1, min(math.Ceil(time.Until(deadline).Seconds()), math.MaxInt32)))
	}
	args := append(append([]string{}, askScript...), title, body, strconv.Itoa(secs))
	for _, c := range choices {
		args = append(args, c.Label)
	}
	// Killing osascript when ctx ends takes its dialog off the screen.
	out, err := exec.CommandContext(ctx, path, args...).Output()
	if ctx.Err() != nil {
		return "", fmt.Errorf("%w: %w", ErrNoAnswer, ctx.Err())
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			msg := firstLine(ee.Stderr)
			if bytes.Contains(ee.Stderr, []byte("(-128)")) { // "User canceled." (Escape)
				return "", fmt.Errorf("%w: %s", ErrNoAnswer, msg)
			}
			return "", fmt.Errorf("%w: osascript: %s", ErrNoDesktop, msg)
		}
		return "", fmt.Errorf("%w: %w", ErrNoDesktop, err)
	}
	label := string(bytes.TrimSuffix(out, []byte("\n")))
	if label == "" {
		return "", fmt.Errorf("%w: the dialog gave up", ErrNoAnswer)
	}
	for _, c := range choices {
		if c.Label == label {
			return c.Key, nil
		}
	}
	return "", fmt.Errorf("%w: the dialog returned %q, which is none of the choices", ErrNoAnswer, label)
}

func firstLine(b []byte) string {
	for i, c := range b {
		if c == '\n' {
			return string(b[:i])
		}
	}
	return string(b)
}
