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
	// The CLI learns where this front is (progs.FrontEnv) only when it runs:
	// the answered look-up needs no /proc/self/exe.
	toCLI := func(extra ...string) int {
		self, _ := os.Executable()
		return delegate(name, append([]string{progs.FrontEnv + "=" + self}, extra...)...)
	}
	profile, ok := hotArgs(os.Args[1:], "token")
	if !ok || !usable() {
		return toCLI()
	}
	getenv := os.Getenv
	fl := lookup.Flags{Profile: profile}
	p, err := wire.ProfileOf(profile, wire.EnvFrom(getenv))
	if err != nil {
		return toCLI()
	}
	if _, err := lookup.KeychainTimeout(getenv, fl); err != nil {
		return toCLI()
	}
	if _, err := lookup.RotationPeriod(getenv, fl); err != nil {
		return toCLI()
	}
	sock, err := lookup.SocketPath(getenv, fl)
	if err != nil {
		return toCLI()
	}
	body, err := lookup.Request(getenv, fl, p, "", "").MarshalJSON()
	if err != nil {
		return toCLI()
	}
	timeout := lookup.ClientTimeout(getenv, fl)
	c, o := dial(sock, timeout)
	var a answer
	if o == answered {
		a, o = ask(c, "/v1/resolve", wire.DoorToken, body, timeout)
		c.Close()
	}
	key, plain := "", false
	switch {
	case o == stuck:
		return toCLI(stuckEnv)
	case o != answered:
		return toCLI()
	}
	if a.status == 200 {
		key, plain = wire.PlainKey(a.body)
	}
	if !plain {
		// Nothing to print, or something to say besides the key: the CLI
		// says it, from this very answer (the key is handed out once).
		return toCLI(handOn(a, wire.DoorToken))
	}
	if _, err := os.Stdout.WriteString(key + "\n"); err != nil {
		return 1
	}
	return 0
}
