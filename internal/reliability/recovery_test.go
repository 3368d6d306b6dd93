//go:build linux

package reliability

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/internal/testkeyring"
	"github.com/torale-ai/torale-cred/ipc"
)

// lockedFor is how long the keychain stays locked with a key waiting. The
// watcher retries 1, 3, 7 and 15 s after the key landed; unlocking after 8 s
// puts the retry that would move the key without help 7 s away.
const lockedFor = 8 * time.Second

// ownRetry is the earliest the watcher's backoff alone would look again
// after the unlock: 15 s after the key landed (its looks only ever come
// later than that on a loaded machine, never sooner). The key must be in
// the keychain and served before then: the health record checks a
// keychain it knows to be down every 500 ms and kicks the watcher, and the
// move takes milliseconds (the report shows how long it took).
const ownRetry = 15 * time.Second

// TestUnlockMovesTheWaitingKeyAtOnce is reliability finding 10: a
// plaintext key written to config.json while the login collection is
// locked stays there, whole, with a warning that says the keychain is
// locked; once the user unlocks it, the key is in the keychain and served
// within recoveryBound, not after the watcher's backoff (8-37 s before the
// fix). A real gnome-keyring of the test's own is locked and unlocked over
// D-Bus, as a screen lock and the user's password would.
func TestUnlockMovesTheWaitingKeyAtOnce(t *testing.T) {
	parallel(t)
	testkeyring.Require(t)
	bus := testkeyring.PrivateBus(t)
	data := t.TempDir()
	testkeyring.StartKeyring(t, bus, data, "torale-test")
	w := newWorld(t)
	env := []string{"DBUS_SESSION_BUS_ADDRESS=" + bus}
	d := w.Daemon(t, env)
	c := ipc.NewClient(w.Sock, 0)
	defer c.Close()

	older, waiting := newKey(t), newKey(t)
	w.use(older, waiting)
	if _, err := c.Put(t.Context(), "default", older, credstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	token := func() (string, string, int) {
		out, errOut, code := w.CLI(t, "", env, "token")
		return strings.TrimSpace(out), errOut, code
	}
	if out, errOut, code := token(); code != 0 || out != older {
		t.Fatalf("token before the lock: exit %d, %s, stderr %q", code, hintOf(out), errOut)
	}

	testkeyring.Lock(t, bus)
	raw := fmt.Sprintf(`{"api_key":%q,"api_url":"https://locked.example","other":"kept"}`+"\n", waiting)
	writeFile(t, w.Config, raw)
	w.exempt[w.Config] = true // the user's own plaintext, until it moves
	written := time.Now()

	// Locked: the key stays in config.json byte for byte, the daemon says
	// why in one warning, and nothing is lost.
	warned := func() int {
		n := 0
		for _, line := range strings.Split(d.Stderr.String(), "\n") {
			if strings.Contains(line, "left the plaintext key in "+w.Config+": the keychain is locked") &&
				strings.Contains(line, "unlock it") && strings.Contains(line, "it will be moved once the keychain answers") {
				n++
			}
		}
		return n
	}
	eventually(t, "the daemon's warning that the key waits for a locked keychain", func() error {
		if warned() == 0 {
			return fmt.Errorf("no warning yet; daemon log:\n%s", d.Stderr.String())
		}
		return nil
	})
	// Meanwhile token answers the key the user just wrote (the SDK's
	// answer), never the older one, and says why.
	tokOut, tokErr, tokCode := token()
	if tokCode != 0 || tokOut != waiting || !strings.Contains(tokErr, "the keychain is locked") {
		t.Errorf("token while locked: exit %d, %s (want the waiting key %s and a warning that the keychain is locked); stderr %q", tokCode, hintOf(tokOut), hint(waiting), tokErr)
	}
	time.Sleep(time.Until(written.Add(lockedFor)))
	b, err := os.ReadFile(w.Config)
	if err != nil || string(b) != raw {
		t.Fatalf("config.json while the keychain is locked: %v %q, want it untouched", err, b)
	}
	if n := warned(); n != 1 {
		t.Errorf("the locked keychain was warned about %d times in %s, want once", n, lockedFor)
	}
	if locked, err := testkeyring.Locked(bus); err != nil || !locked {
		t.Fatalf("harness: the login collection is no longer locked (%v, %v)", locked, err)
	}

	testkeyring.Unlock(t, bus, "torale-test")
	unlocked := time.Now()
	var moved, served time.Duration
	bound := written.Add(ownRetry).Sub(unlocked) // measured from the unlock
	deadline := unlocked.Add(3 * lockedFor)
	for moved == 0 || served == 0 {
		if time.Now().After(deadline) {
			break
		}
		if moved == 0 {
			if b, _ := os.ReadFile(w.Config); !strings.Contains(string(b), "api_key") {
				moved = time.Since(unlocked)
			}
		}
		if served == 0 {
			if r, err := c.Resolve(credstore.WithDoor(t.Context(), credstore.DoorToken), credstore.Request{Profile: "default"}); err == nil && r.Key == waiting && r.KeySource == credstore.FromKeychain {
				served = time.Since(unlocked)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, _ = os.ReadFile(w.Config)
	out, errOut, code := token()
	// The keychain itself holds it (this process's session bus is another
	// keyring's): token without a daemon reads it directly.
	if err := d.Stop(t); err != nil {
		t.Errorf("stopping the daemon: %v", err)
	}
	direct, directErr, directCode := token()
	t.Logf("locked %s with a key waiting (token then: exit %d, %q); unlocked → moved in %s, served from the keychain in %s; config.json after: %q",
		lockedFor, tokCode, firstLine(tokErr), moved.Round(time.Millisecond), served.Round(time.Millisecond), b)
	ok := moved > 0 && moved < bound && served > 0 && served < bound
	switch {
	case moved == 0:
		t.Errorf("the waiting key was not moved within %s of the unlock; daemon log:\n%s", 3*lockedFor, d.Stderr.String())
	case moved >= bound || served >= bound:
		t.Errorf("unlocked → moved in %s, served in %s; want both before the watcher's own retry %s later (the keychain's return must retry at once, not after the backoff)", moved, served, bound.Round(time.Millisecond))
	}
	if string(b) != `{"api_url":"https://locked.example","other":"kept"}`+"\n" {
		t.Errorf("config.json after the move: %q, want every other field kept", b)
	}
	if code != 0 || out != waiting {
		ok = false
		t.Errorf("token after the unlock: exit %d, %s (want the moved key %s); stderr %q", code, hintOf(out), hint(waiting), errOut)
	}
	if directCode != 0 || direct != waiting {
		ok = false
		t.Errorf("token from the keychain itself, the daemon stopped: exit %d, %s (want the moved key %s); stderr %q", directCode, hintOf(direct), hint(waiting), directErr)
	}
	report.add("Faults", fmt.Sprintf("login collection locked (Secret.Service.Lock) while a new plaintext key lands in config.json; unlocked %s later with the password", lockedFor),
		"the key stays in config.json untouched, one warning that the keychain is locked; after the unlock it is moved and served before the watcher's backoff would look again (7 s later)",
		fmt.Sprintf("untouched while locked, warned once; moved %s and served %s after the unlock; token then answers the new key: %v, and from the keychain alone: %v", moved.Round(time.Millisecond), served.Round(time.Millisecond), out == waiting, direct == waiting),
		okStr(ok))
}

// hintOf is hint for a value that may not be a key at all.
func hintOf(s string) string {
	if len(s) < 8 {
		return fmt.Sprintf("%q", s)
	}
	return hint(s)
}
