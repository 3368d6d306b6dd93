//go:build !linux && !darwin

package usersvc

import "runtime"

// newServiceManager: only systemd (Linux) and launchd (macOS) are built.
func newServiceManager(*Env) (Manager, error) {
	return nil, &noServiceManagerError{action: "manage", manager: "supported service manager",
		detail: "torale-cred installs itself under systemd on Linux and launchd on macOS, not on " + runtime.GOOS}
}
