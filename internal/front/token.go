//go:build !windows

package front

import (
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
	body, err := lookup.Request(getenv, fl, p, "", "").MarshalJSON()
	if err != nil {
		return delegate(name, front)
	}
	timeout := lookup.ClientTimeout(getenv, fl)
	conn, o := dial(sock, timeout)
	var a answer
	if o == answered {
		a, o = ask(conn, "/v1/resolve", wire.DoorToken, body, timeout)
		conn.Close()
	}
	key, plain := "", false
	switch {
	case o == stuck:
		return delegate(name, front, stuckEnv)
	case o != answered:
		return delegate(name, front)
	}
	if a.status == 200 {
		key, plain = wire.PlainKey(a.body)
	}
	if !plain {
		// Nothing to print, or something to say besides the key: the CLI
		// says it, from this very answer (the key is handed out once).
		return delegate(name, front, handOn(a, wire.DoorToken))
	}
	if _, err := os.Stdout.WriteString(key + "\n"); err != nil {
		return 1
	}
	return 0
}
