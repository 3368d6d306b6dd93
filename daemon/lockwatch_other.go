//go:build !linux

package daemon

import "context"

// watchKeychainLock: only the Secret Service (Linux) says when it locks;
// elsewhere the health record's age bounds how late a lock is seen.
func (d *Daemon) watchKeychainLock(context.Context) error { return nil }
