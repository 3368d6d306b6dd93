//go:build linux

package reliability

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/internal/testkeyring"
)

// windowRounds is how many rounds each delayed system call gets: 13 calls
// × 77 = 1,001 rounds in full mode, 5 each in short mode (CI), 2 in make
// test (race detector on), to fit its time.
func windowRounds() int {
	switch {
	case full():
		return 77
	case raceEnabled:
		return 2
	}
	return 5
}

// spread picks the call of the move round r of n lands in, spreading the
// rounds over the move's calls 1..calls.
func spread(r, n, calls int) int {
	if calls <= 0 {
		return 1
	}
	if n >= calls {
		return 1 + r%calls
	}
	return 1 + r*calls/n
}

// TestRewriteWindowLosesNothing is reliability finding 4: a key the
// official CLI writes while the daemon moves the previous one out of
// config.json (between its read and the end of its rewrite) must end in
// the keychain or the file. Each system call the move makes (rewriteCalls)
// is delayed in turn by strace (as root), every call of that kind; a first
// key is written, and a second one, in place or by rename in turn, while
// the daemon is held in the k-th delayed call of the move, k spread over
// every call of it (counted on a move of its own first).
func TestRewriteWindowLosesNothing(t *testing.T) {
	parallel(t)
	testkeyring.Require(t)
	needStrace(t)
	w := newWorld(t)
	d := w.Daemon(t, nil)
	kc := keychain.New(keychain.WithService(w.Service))
	dir := filepath.Dir(w.Config)
	write := func(content string, inPlace bool) {
		if inPlace {
			_ = os.WriteFile(w.Config, []byte(content), 0o600)
			return
		}
		tmp := filepath.Join(dir, "writer.tmp")
		_ = os.WriteFile(tmp, []byte(content), 0o600)
		_ = os.Rename(tmp, w.Config)
	}
	// settled: the key is in the keychain and config.json holds none. The
	// keychain is asked only once config.json holds no key (or at the
	// deadline): until then the move is not over whatever it holds, and
	// a D-Bus look-up every 2 ms only slows the Secret Service the daemon
	// is moving the key into.
	settle := func(key string) (fileHas, kcHas bool) {
		deadline := time.Now().Add(patience)
		for {
			b, _ := os.ReadFile(w.Config)
			fileHas = strings.Contains(string(b), key)
			late := time.Now().After(deadline)
			if !strings.Contains(string(b), "api_key") || late {
				k, _ := kc.Get(t.Context(), "default")
				kcHas = k == key
				if kcHas || late {
					return fileHas, kcHas
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	rounds := windowRounds()
	start := time.Now()
	var total, lost, inFile, inKeychain, late int
	var perCall []string
	for _, c := range rewriteCalls {
		tr := traceDelays(t, d.PID(), c, dir)
		// Count the move's calls of this kind on a move of its own.
		key := newKey(t)
		w.use(key)
		tr.quiet(80 * time.Millisecond)
		write(fmt.Sprintf(`{"api_key":%q,"api_url":"https://window.example"}`, key), false)
		if _, kcHas := settle(key); !kcHas {
			t.Fatalf("%s delayed: a lone key was not moved within %s; daemon log:\n%s", c.names, patience, d.Stderr.String())
		}
		var seen []string
		for {
			l, ok := tr.next(80 * time.Millisecond)
			if !ok {
				break
			}
			seen = append(seen, l)
		}
		calls := len(seen)
		cLost, cLate := 0, 0
		for r := range rounds {
			first, second := newKey(t), newKey(t)
			w.use(first, second)
			tr.quiet(80 * time.Millisecond)
			write(fmt.Sprintf(`{"api_key":%q,"api_url":"https://window.example","round":%d}`, first, total), false)
			k := spread(r, rounds, calls)
			for range k {
				if _, ok := tr.next(3 * time.Second); !ok {
					cLate++ // the move made fewer calls this time: write after it
					break
				}
			}
			time.Sleep(time.Duration(r%3) * c.delay / 4) // still inside the held call
			write(fmt.Sprintf(`{"api_key":%q,"api_url":"https://window.example","round":%d}`, second, total), r%2 == 0)
			fileHas, kcHas := settle(second)
			switch {
			case kcHas:
				inKeychain++
			case fileHas:
				inFile++
			default:
				lost++
				cLost++
				t.Errorf("%s delayed, round %d (second write in the move's call %d of %d): the second key is neither in config.json nor in the keychain", c.names, r, k, calls)
			}
			total++
		}
		tr.stop()
		perCall = append(perCall, fmt.Sprintf("%s %d/%d", c.names, cLost, rounds))
		t.Logf("%s delayed %v (%s): the move makes %d such calls (%s); %d rounds, lost %d, %d with fewer calls than counted", c.names, c.delay, c.where, calls, summarize(seen, dir), rounds, cLost, cLate)
		late += cLate
	}
	if !d.Alive() {
		t.Fatalf("the daemon died: %s", d.Stderr.String())
	}
	es, _ := os.ReadDir(dir)
	var kept []string
	for _, e := range es {
		if strings.Contains(e.Name(), ".recovered-") || strings.Contains(e.Name(), ".kept-") {
			kept = append(kept, e.Name())
		}
	}
	took := time.Since(start).Round(time.Second)
	t.Logf("%d rounds over %d delayed system calls in %s: second key in keychain %d, only in file %d, lost %d; %d rounds written after the move's last call; kept aside %v", total, len(rewriteCalls), took, inKeychain, inFile, lost, late, kept)
	report.add("Faults", fmt.Sprintf("a second key written (in place or by rename) while the daemon moves the first out of config.json, held by strace in the k-th call of the move of each of its %d system calls in turn (every call of that kind delayed %s), %d rounds", len(rewriteCalls), delays(), total),
		"the second key never lost: in the keychain once the watcher settles",
		fmt.Sprintf("in the keychain %d, only in config.json %d, lost %d (lost per call: %s); %s", inKeychain, inFile, lost, strings.Join(perCall, ", "), took),
		okStr(lost == 0 && inFile == 0))
}

// TestDaemonSIGKILLInsideTheRewrite kills the real daemon while strace
// holds it in the k-th call of a move (each of rewriteCalls in turn, k
// spread over the move's calls): the key is never lost (config.json, the
// keychain or both), config.json is always whole, and a restarted daemon
// finishes the move. A kill leaves the rewrite's temp file behind; aged
// past the sweep's minute, the restarted daemon removes it (it holds no
// key, or the key the keychain holds).
func TestDaemonSIGKILLInsideTheRewrite(t *testing.T) {
	parallel(t)
	testkeyring.Require(t)
	needStrace(t)
	rounds := 2 // 1,001 in full mode, as windowRounds
	switch {
	case full():
		rounds = 77
	case raceEnabled:
		rounds = 1
	}
	w := newWorld(t)
	kc := keychain.New(keychain.WithService(w.Service))
	dir := filepath.Dir(w.Config)
	temps := func() (names []string, withKey int) {
		es, _ := os.ReadDir(dir)
		for _, e := range es {
			if e.Name() == "config.json" {
				continue
			}
			names = append(names, e.Name())
			if b, _ := os.ReadFile(filepath.Join(dir, e.Name())); strings.Contains(string(b), "sk_") {
				withKey++
			}
		}
		return names, withKey
	}
	moved := func(key string) error {
		b, _ := os.ReadFile(w.Config)
		if strings.Contains(string(b), "api_key") { // not moved yet: spare the Secret Service a look-up
			return fmt.Errorf("config.json %q", b)
		}
		k, err := kc.Get(t.Context(), "default")
		if err != nil || k != key {
			return fmt.Errorf("config.json %q, keychain %v", b, err)
		}
		return nil
	}
	start := time.Now()
	var tally killTally
	var total, left, leftWithKey, unswept int
	for _, c := range rewriteCalls {
		// Count the move's calls of this kind on a move of its own.
		d := w.Daemon(t, nil)
		tr := traceDelays(t, d.PID(), c, dir)
		key := newKey(t)
		w.use(key)
		writeFile(t, w.Config, fmt.Sprintf(`{"api_key":%q,"api_url":"https://kill.example"}`, key))
		eventually(t, c.names+" delayed: a lone key moved", func() error { return moved(key) })
		calls := tr.quiet(80 * time.Millisecond)
		tr.stop()
		if err := d.Stop(t); err != nil {
			t.Fatalf("stop: %v", err)
		}
		for r := range rounds {
			d := w.Daemon(t, nil)
			tr := traceDelays(t, d.PID(), c, dir)
			key := newKey(t)
			w.use(key)
			writeFile(t, w.Config, fmt.Sprintf(`{"api_key":%q,"api_url":"https://kill.example","round":%d}`, key, total))
			k := spread(r, rounds, calls)
			for range k {
				if _, ok := tr.next(3 * time.Second); !ok {
					break
				}
			}
			time.Sleep(time.Duration(r%3) * c.delay / 4) // still inside the held call
			_ = d.Cmd.Process.Kill()
			<-d.Done
			d.Done <- errors.New("killed")
			tr.stop()

			tally.observe(t, w.Config, kc, key, total, fmt.Sprintf("%s held, round %d (killed in the move's call %d of %d)", c.names, r, k, calls))

			names, withKey := temps()
			left += len(names)
			leftWithKey += withKey
			aged := time.Now().Add(-2 * time.Minute)
			for _, n := range names {
				_ = os.Chtimes(filepath.Join(dir, n), aged, aged)
			}
			// The next daemon sweeps what the kill left and finishes the move
			// (its own rewrite's temp file lives until the move returns, just
			// after config.json loses the key: only what the kill left counts).
			d2 := w.Daemon(t, nil)
			eventually(t, "the restarted daemon finishing the move", func() error { return moved(key) })
			if err := d2.Stop(t); err != nil {
				t.Errorf("round %d: stop: %v", r, err)
			}
			if still, _ := temps(); len(still) > 0 {
				unswept += len(still)
				t.Errorf("%s held, round %d: the restarted daemon left %v (the kill left %v)", c.names, r, still, names)
			}
			total++
		}
	}
	took := time.Since(start).Round(time.Second)
	t.Logf("%d SIGKILLs inside the move (%d delayed system calls) in %s: key in file only %d, keychain only %d, both %d, lost %d; config.json broken %d; %d temp files left by kills (%d holding a key), %d not swept", total, len(rewriteCalls), took, tally.inFile, tally.inKeychain, tally.both, tally.lost, tally.broken, left, leftWithKey, unswept)
	report.add("Faults", fmt.Sprintf("daemon SIGKILLed while strace holds it in the k-th call of a move, each of its %d system calls in turn (%d rounds), then restarted", len(rewriteCalls), total),
		"key never lost (in config.json, the keychain or both); config.json whole; the restarted daemon finishes the move and sweeps what the kill left (aged past its minute)",
		fmt.Sprintf("file only %d, keychain only %d, both %d, lost %d; config.json broken %d; %d temp files left (%d holding the key the keychain holds), %d not swept; %s", tally.inFile, tally.inKeychain, tally.both, tally.lost, tally.broken, left, leftWithKey, unswept, took),
		okStr(tally.lost == 0 && tally.broken == 0 && unswept == 0))
}

// delays says how long rewriteCalls hold each call: "10ms, D-Bus replies 2ms".
func delays() string {
	var file, sock time.Duration
	for _, c := range rewriteCalls {
		if c.onSocket {
			sock = c.delay
		} else {
			file = c.delay
		}
	}
	return fmt.Sprintf("%v, D-Bus replies %v", file, sock)
}
