//go:build darwin

package notify

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
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

func firstLine(b []byte) string {
	for i, c := range b {
		if c == '\n' {
			return string(b[:i])
		}
	}
	return string(b)
}
