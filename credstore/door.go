package credstore

import (
	"context"
)

type doorKey struct{}

// WithDoor says which door a look-up hands its key through.
func WithDoor(ctx context.Context, door string) context.Context {
	return context.WithValue(ctx, doorKey{}, door)
}

// DoorFrom is the look-up's door; "" for torale-cred's own checks.
func DoorFrom(ctx context.Context) string {
	d, _ := ctx.Value(doorKey{}).(string)
	return d
}
