// Package filelock takes an exclusive lock on a lock file, so the daemon
// and a command never lose each other's updates of a shared file.
package filelock
