package notify_test

import (
	"context"
	"errors"
	"testing"

	"github.com/torale-ai/torale-cred/internal/notify"
)

// TestAskRejectsBadChoices: a malformed question is the caller's bug, and
// says so before anything is shown, on every OS.
func TestAskRejectsBadChoices(t *testing.T) {
	for name, choices := range map[string][]notify.Choice{
		"none":          nil,
		"empty key":     {{Key: "", Label: "Allow"}},
		"empty label":   {{Key: "allow", Label: ""}},
		"repeated key":  {{Key: "a", Label: "Allow"}, {Key: "a", Label: "Deny"}},
		"repeated text": {{Key: "a", Label: "Allow"}, {Key: "b", Label: "Allow"}},
		"default":       {{Key: "default", Label: "Allow"}},
	} {
		_, err := notify.Ask(context.Background(), "t", "b", choices)
		if err == nil || errors.Is(err, notify.ErrNoDesktop) || errors.Is(err, notify.ErrNoAnswer) {
			t.Errorf("%s: Ask = %v; want a programming error", name, err)
		}
	}
}

func TestAskWithEndedContextIsNoAnswer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := notify.Ask(ctx, "t", "b", []notify.Choice{{Key: "a", Label: "A"}})
	if !errors.Is(err, notify.ErrNoAnswer) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Ask = %v; want ErrNoAnswer", err)
	}
}
