//go:build !windows

package front

import (
	"encoding/json"
	"os"

	"github.com/torale-ai/torale-cred/internal/lookup"
	"github.com/torale-ai/torale-cred/internal/progs"
	"github.com/torale-ai/torale-cred/internal/wire"
)

// Token is torale-cred's main: `torale-cred token [--profile P]` answered
// from the daemon when it answers plainly (a key, no keychain problem, no
// rotation due), every other command and case by the full CLI.
func Token() int {
	name := argv0(progs.Front)
	self, _ := os.Executable()
	front := progs.FrontEnv + "=" + self
	profile, ok := hotArgs(os.Args[1:], "token")
	if !ok || !usable() {
		return delegate(name, front)
	}
	getenv := os.Getenv
	fl := lookup.Flags{Profile: profile}
	p, err := wire.ProfileOf(profile, wire.EnvFrom(getenv))
	if err != nil {
		return delegate(name, front)
	}
	if _, err := lookup.KeychainTimeout(getenv, fl); err != nil {
		return delegate(name, front)
	}
	if _, err := lookup.RotationPeriod(getenv, fl); err != nil {
		return delegate(name, front)
	}
	sock, err := lookup.SocketPath(getenv, fl)
	if err != nil {
		return delegate(name, front)
	}
	body, err := json.Marshal(lookup.Request(getenv, fl, p, "", ""))
	if err != nil {
		return delegate(name, front)
	}
	timeout := lookup.ClientTimeout(getenv, fl)
	conn, o := dial(sock, timeout)
	var r wire.Resolution
	if o == answered {
		o = ask(conn, "/v1/resolve", wire.DoorToken, body, timeout, &r)
		conn.Close()
	}
	switch {
	case o == stuck:
		return delegate(name, front, stuckEnv)
	case o != answered, r.Key == "", r.KeychainProblem != "", r.Rotation != nil && r.Rotation.Due:
		// Nothing to print, or something to say besides the key: the CLI
		// says it (and asks again).
		return delegate(name, front)
	}
	if _, err := os.Stdout.WriteString(r.Key + "\n"); err != nil {
		return 1
	}
	return 0
}
