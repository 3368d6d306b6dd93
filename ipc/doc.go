// Package ipc owns the daemon's socket API: a private Unix socket that only
// its own user may reach, the HTTP/1.1 JSON routes of SPEC.md on net/http,
// and the small client the CLI uses. It never reads the keychain itself: the
// daemon hands the server a Backend, and every key it serves comes from there.
package ipc
