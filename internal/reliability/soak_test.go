//go:build linux

package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/internal/testkeyring"
	"github.com/torale-ai/torale-cred/ipc"
)

// migrationBound is the report's target for how long after config.json
// has been rewritten without its key a fresh look-up may still miss the
// key just migrated (the watcher drops the cache right after the
// rewrite). The slowest is measured and reported; the test fails only on
// a key never served (after the patience): how long it took is this
// machine's speed.
const migrationBound = time.Second

// TestSoak: many clients look keys up over the socket of a daemon process
// while config.json receives a new plaintext key every 100 ms, which the
// watcher migrates into the keychain. Zero errors; every answer a key that
// was written, and never one older than a key a look-up already returned
// after its migration; each migrated key served (the slowest reported
// against migrationBound); resident memory flat.
func TestSoak(t *testing.T) {
	parallel(t)
	testkeyring.Require(t)
	clients, perClient := 8, 20000
	if raceEnabled { // make test: race-built clients, and its time
		perClient = 4000
	}
	if full() {
		clients, perClient = 64, 100000
	}
	w := newWorld(t)
	d := w.Daemon(t, nil)

	var (
		mu      sync.RWMutex
		written = map[string]int{} // key → index of its write
	)
	var confirmed atomic.Int64 // index of the last key a fresh look-up returned after its migration
	confirmed.Store(-1)
	indexOf := func(k string) (int, bool) {
		mu.RLock()
		defer mu.RUnlock()
		i, ok := written[k]
		return i, ok
	}

	probe := ipc.NewClient(w.Sock, 0)
	defer probe.Close()
	migrate := func(i int) (time.Duration, error) {
		k := newKey(t)
		w.use(k)
		mu.Lock()
		written[k] = i
		mu.Unlock()
		raw := fmt.Sprintf(`{"api_key":%q,"api_url":"https://soak.example","round":%d}`, k, i)
		tmp := w.Config + ".tmp"
		if err := os.WriteFile(tmp, []byte(raw), 0o600); err != nil {
			return 0, err
		}
		if err := os.Rename(tmp, w.Config); err != nil {
			return 0, err
		}
		start := time.Now()
		for { // the migration is complete when config.json lost its key
			b, err := os.ReadFile(w.Config)
			if err == nil && !strings.Contains(string(b), "api_key") {
				var m map[string]any
				if json.Unmarshal(b, &m) != nil || m["round"] != float64(i) || m["api_url"] != "https://soak.example" {
					return 0, fmt.Errorf("round %d: config.json after the migration lost other fields: %s", i, b)
				}
				break
			}
			if time.Since(start) > patience {
				return 0, fmt.Errorf("round %d: config.json still holds its key after %s", i, patience)
			}
			time.Sleep(2 * time.Millisecond)
		}
		rewritten := time.Now()
		for {
			r, err := probe.Resolve(credstore.WithDoor(t.Context(), credstore.DoorToken), credstore.Request{Profile: "default"})
			if err == nil && r.Key == k && r.KeySource == "keychain" {
				confirmed.Store(int64(i))
				return time.Since(start), nil
			}
			if time.Since(rewritten) > patience {
				got, _ := indexOf(r.Key)
				return 0, fmt.Errorf("round %d: %s after config.json was rewritten, a look-up still answers key #%d from %q (%v)", i, patience, got, r.KeySource, err)
			}
			time.Sleep(time.Millisecond)
		}
	}
	// A first key before the clients start, so none may answer 404.
	if _, err := migrate(0); err != nil {
		t.Fatal(err)
	}

	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	var rounds atomic.Int64
	var maxMig atomic.Int64
	writerErr := make(chan error, 1)
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 1; ; i++ {
			select {
			case <-ctx.Done():
				writerErr <- nil
				return
			case <-tick.C:
			}
			d, err := migrate(i)
			if err != nil {
				writerErr <- err
				stop()
				return
			}
			rounds.Add(1)
			if int64(d) > maxMig.Load() {
				maxMig.Store(int64(d))
			}
		}
	}()

	var done atomic.Int64
	total := int64(clients * perClient)
	var samples []int
	var smu sync.Mutex
	sampler := make(chan struct{})
	go func() {
		defer close(sampler)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if done.Load() < total/10 {
				continue // warm-up
			}
			if kb, err := rssKiB(d.PID()); err == nil {
				smu.Lock()
				samples = append(samples, kb)
				smu.Unlock()
			}
		}
	}()

	var errs, unknown, stale atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			c := ipc.NewClient(w.Sock, 0)
			defer c.Close()
			for range perClient {
				if ctx.Err() != nil {
					return
				}
				floor := confirmed.Load()
				rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				r, err := c.Resolve(credstore.WithDoor(rctx, credstore.DoorToken), credstore.Request{Profile: "default"})
				cancel()
				done.Add(1)
				if err != nil {
					if ctx.Err() == nil {
						errs.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
					}
					continue
				}
				i, ok := indexOf(r.Key)
				switch {
				case !ok:
					unknown.Add(1)
				case int64(i) < floor:
					stale.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if kb, err := rssKiB(d.PID()); err == nil {
		smu.Lock()
		samples = append(samples, kb)
		smu.Unlock()
	}
	stop()
	<-sampler
	if err := <-writerErr; err != nil {
		t.Error(err)
	}
	if !d.Alive() {
		t.Fatalf("the daemon died: %s", d.Stderr.String())
	}
	n := done.Load()
	rate := float64(n) / elapsed.Seconds()
	t.Logf("%d look-ups by %d clients in %s (%.0f/s), %d migrations (slowest %s until served), errors %d, unknown keys %d, stale %d",
		n, clients, elapsed.Round(time.Millisecond), rate, rounds.Load(), time.Duration(maxMig.Load()).Round(time.Millisecond), errs.Load(), unknown.Load(), stale.Load())
	if errs.Load() != 0 {
		t.Errorf("%d look-ups failed; first: %v", errs.Load(), firstErr.Load())
	}
	if unknown.Load() != 0 {
		t.Errorf("%d answers were a key never written", unknown.Load())
	}
	if stale.Load() != 0 {
		t.Errorf("%d answers were older than a key already served after its migration", stale.Load())
	}
	if rounds.Load() < 3 {
		t.Errorf("only %d migrations ran during the soak", rounds.Load())
	}
	if n != total {
		t.Errorf("%d of %d look-ups ran", n, total)
	}
	smu.Lock()
	first, last, peak := 0, 0, 0
	if len(samples) > 0 {
		first, last = samples[0], samples[len(samples)-1]
		for _, s := range samples {
			peak = max(peak, s)
		}
	}
	smu.Unlock()
	t.Logf("daemon RSS after warm-up %d KiB, final %d KiB, peak %d KiB (%d samples)", first, last, peak, len(samples))
	const slackKiB = 5 << 10
	// The daemon is the shipped program in every mode: its memory is its
	// own, never the race detector's shadow memory.
	if first == 0 || last > first+slackKiB {
		t.Errorf("memory not flat: %d KiB after warm-up, %d KiB at the end (allowed +%d KiB)", first, last, slackKiB)
	}
	report.add("Soak", fmt.Sprintf("%d clients × %d look-ups, a new key migrated every 100 ms", clients, perClient),
		"0 errors, every answer a written key and never older than one already served after its migration; each key served after the rewrite (target ≤ "+migrationBound.String()+")",
		fmt.Sprintf("%d look-ups in %s (%.0f/s); %d migrations, slowest %s from write to served; %d errors, %d unknown, %d stale",
			n, elapsed.Round(time.Millisecond), rate, rounds.Load(), time.Duration(maxMig.Load()).Round(time.Millisecond), errs.Load(), unknown.Load(), stale.Load()),
		okStr(errs.Load() == 0 && unknown.Load() == 0 && stale.Load() == 0 && n == total))
	report.add("Soak", "daemon resident memory (VmRSS) during the soak", "final ≤ first sample after warm-up + 5 MiB",
		fmt.Sprintf("%d KiB after warm-up, %d KiB final, %d KiB peak", first, last, peak), okStr(first != 0 && last <= first+slackKiB))
}
