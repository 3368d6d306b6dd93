package credstore

import (
	"context"

	"github.com/torale-ai/torale-cred/internal/wire"
)

// Doors a key leaves torale-cred through, as the audit trail names them
// (internal/wire's). A look-up with no door in its context is one of
// torale-cred's own checks (status, login's "is there a key already"),
// which hands no key on.
const (
	DoorSocket = wire.DoorSocket
	DoorToken  = wire.DoorToken
	DoorExec   = wire.DoorExec
	DoorEnv    = wire.DoorEnv
	DoorGit    = wire.DoorGit
	DoorRotate = wire.DoorRotate
)

// CheckDoor reports whether door is one of the names above.
func CheckDoor(door string) bool { return wire.CheckDoor(door) }

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
