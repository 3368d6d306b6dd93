package credstore

import "context"

// Doors a key leaves torale-cred through, as the audit trail names them.
// A look-up with no door in its context is one of torale-cred's own checks
// (status, login's "is there a key already"), which hands no key on.
const (
	DoorSocket = "socket" // a program asked the socket itself
	DoorToken  = "token"
	DoorExec   = "exec"
	DoorEnv    = "env"
	DoorGit    = "git"    // git-credential-torale get
	DoorRotate = "rotate" // rotate's own call to the Torale API
)

// CheckDoor reports whether door is one of the names above.
func CheckDoor(door string) bool {
	switch door {
	case DoorSocket, DoorToken, DoorExec, DoorEnv, DoorGit, DoorRotate:
		return true
	}
	return false
}

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
