//go:build !linux

package keychain

import "context"

// probeKeychain has nothing to check ahead of time outside Linux: the macOS
// Keychain and the Windows Credential Manager have no bus to be missing.
func probeKeychain(context.Context, bool) error { return nil }
