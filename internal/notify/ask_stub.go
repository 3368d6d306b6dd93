package notify

import (
	"context"
	"errors"
)

// TEMPORARY until the desktop question lands.
type Choice struct{ Key, Label string }

var (
	ErrNoDesktop = errors.New("no desktop can ask")
	ErrNoAnswer  = errors.New("no answer")
)

func Ask(ctx context.Context, title, body string, choices []Choice) (string, error) {
	return "", ErrNoDesktop
}
