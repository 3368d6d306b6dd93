//go:build unix && !race

package credstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/internal/childtest"
	"github.com/torale-ai/torale-cred/internal/testkeyring"
	"github.com/torale-ai/torale-cred/internal/toraleconfig"
)

// Environment of the helper process TestMigrateSurvivesSIGKILL kills.
const (
	faultConfigEnv  = "TORALE_CRED_FAULT_CONFIG"
	faultServiceEnv = "TORALE_CRED_FAULT_SERVICE"
	faultStateEnv   = "TORALE_CRED_FAULT_STATE"
)

// TestMigrateFaultChild is the process that gets killed: it migrates
// config.json over and over until SIGKILL arrives. It prints "ready" before
// the first migration and "moved" after the one that moves the key.
func TestMigrateFaultChild(t *testing.T) {
	cfg := os.Getenv(faultConfigEnv)
	if cfg == "" {
		t.Skip("helper process of TestMigrateSurvivesSIGKILL")
	}
	s := &Store{
		Keychain:   keychain.New(keychain.WithService(os.Getenv(faultServiceEnv))),
		StateFile:  StateFile{Dir: os.Getenv(faultStateEnv)},
		ConfigPath: cfg,
	}
	fmt.Println("ready")
	for {
		res, err := s.MigrateConfig(context.Background())
		if err == nil && res.Outcome == Migrated {
			fmt.Println("moved")
		}
	}
}

// patience bounds each wait on a child: long enough for any loaded
// machine, it only turns a hang into a failure.
const patience = 30 * time.Second

// TestMigrateSurvivesSIGKILL kills a process in the middle of migrations at
// random instants, at least 100 times, and checks after each kill that the
// round's key is in config.json, in the keychain, or both; that config.json
// and state.json are never torn; and that no file left behind holds the key.
func TestMigrateSurvivesSIGKILL(t *testing.T) {
	testkeyring.Require(t)
	rounds := 120
	if testing.Short() {
		rounds = 20
	}
	home := t.TempDir()
	dir := filepath.Join(home, ".torale")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.json")
	service := testkeyring.Service()
	store := &Store{Keychain: keychain.New(keychain.WithService(service)), StateFile: StateFile{Dir: filepath.Join(home, "state")}, ConfigPath: cfg}
	t.Cleanup(func() { _ = store.Keychain.Delete(context.Background(), DefaultProfile) })

	start := func() *childtest.Child {
		t.Helper()
		return childtest.Start(t, "TestMigrateFaultChild", patience, faultConfigEnv+"="+cfg, faultServiceEnv+"="+service, faultStateEnv+"="+store.StateFile.Dir)
	}
	writeRound := func(i int) string {
		key := fmt.Sprintf("sk_FAULTfaultFAULTfault%04d%013d", i, rand.Int64N(1e13))
		content := pretty(`"api_url": "https://torale.example.test"`, `"api_key": "`+key+`"`, fmt.Sprintf(`"round": %d`, i))
		if err := os.WriteFile(cfg, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return key
	}

	// Calibrate: how long does one migration take from "ready"?
	var took []time.Duration
	for i := range 3 {
		writeRound(-1 - i)
		c := start()
		t0 := time.Now()
		if c.Next() != "moved" {
			c.Kill()
			t.Fatal("helper never moved the key")
		}
		took = append(took, time.Since(t0))
		c.Kill()
	}
	slices.Sort(took)
	spread := took[1] * 3 / 2
	t.Logf("one migration takes about %s; killing within %s of the start", took[1], spread)

	counts := map[string]int{}
	round := func(i int, spread time.Duration) {
		key := writeRound(i)
		c := start()
		time.Sleep(time.Duration(rand.Int64N(int64(max(spread, time.Microsecond)))))
		c.Kill()

		raw, err := os.ReadFile(cfg)
		if err != nil {
			t.Fatalf("round %d: config.json gone: %v", i, err)
		}
		conf, err := toraleconfig.Parse(raw)
		if err != nil {
			t.Fatalf("round %d: config.json torn: %v", i, err)
		}
		if !strings.Contains(string(raw), `"api_url": "https://torale.example.test"`) || !strings.Contains(string(raw), fmt.Sprintf(`"round": %d`, i)) {
			t.Fatalf("round %d: other fields lost: %s", i, raw)
		}
		stored, kerr := store.Keychain.Get(context.Background(), DefaultProfile)
		inFile, inKeychain := conf.APIKey == key, kerr == nil && stored == key
		switch {
		case inFile && inKeychain:
			counts["both"]++
		case inFile:
			counts["file only"]++
		case inKeychain && !conf.HasKey:
			counts["keychain only"]++
		default:
			t.Fatalf("round %d: key lost: file has key %v, keychain holds %s (err %v)", i, conf.HasKey, apikey.Hint(stored), kerr)
		}
		if _, err := store.StateFile.Load(); err != nil {
			t.Fatalf("round %d: state.json torn: %v", i, err)
		}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if e.Name() == "config.json" {
				continue
			}
			p := filepath.Join(dir, e.Name())
			// Killed just after the swap, the leftover holds what config.json
			// held; that may be the key only once the keychain has it too
			// (the daemon's sweep then deletes it; otherwise keeps it aside).
			if b, _ := os.ReadFile(p); strings.Contains(string(b), key) && !inKeychain {
				t.Fatalf("round %d: leftover %s holds a key the keychain does not", i, e.Name())
			}
			_ = os.Remove(p)
		}
	}
	for i := range rounds {
		round(i, spread)
	}
	// The calibration is this machine's speed a moment ago; under a
	// changing load every kill may have landed on one side of the move.
	// Then more rounds, the window moved towards the side missing.
	extra := 0
	for ; (counts["file only"] == 0 || counts["keychain only"] == 0) && extra < 200; extra++ {
		if counts["keychain only"] == 0 {
			spread = spread * 5 / 4 // all too early: kill later
		} else {
			spread = spread * 4 / 5 // all too late: kill sooner
		}
		round(rounds+extra, spread)
	}
	t.Logf("after %d kills (%d to find both sides of the move): %v", rounds+extra, extra, counts)
	if counts["file only"] == 0 || counts["keychain only"] == 0 {
		t.Errorf("kills never landed both before and after the move (%v): the test did not exercise the migration", counts)
	}
}
