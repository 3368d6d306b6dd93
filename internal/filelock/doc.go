// Package filelock takes an exclusive lock on a lock file, so the daemon
// and a command never lose each other's updates of a shared file. It never
// waits past its caller's deadline: a lock another process holds forever
// costs a bounded wait and a clear error, never a parked thread.
package filelock
