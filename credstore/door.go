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

type routeKey struct{}

// WithRoute names the API route a key is handed out for ("GET /auth/me"),
// for the trail: the local endpoint's requests.
func WithRoute(ctx context.Context, route string) context.Context {
	return context.WithValue(ctx, routeKey{}, route)
}

// RouteFrom is the look-up's route; "" for none.
func RouteFrom(ctx context.Context) string {
	r, _ := ctx.Value(routeKey{}).(string)
	return r
}
