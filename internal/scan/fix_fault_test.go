//go:build unix && !race

package scan

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

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/internal/childtest"
	"github.com/torale-ai/torale-cred/internal/testkeyring"
)

// Environment of the helper process TestFixSurvivesSIGKILL kills. The
// helper runs only when faultEnvFile is set, so the test binary never
// starts itself again by accident.
const (
	faultEnvFile    = "TORALE_CRED_SCAN_FAULT_ENV"
	faultServiceEnv = "TORALE_CRED_SCAN_FAULT_SERVICE"
	faultStateEnv   = "TORALE_CRED_SCAN_FAULT_STATE"
	faultKeyEnv     = "TORALE_CRED_SCAN_FAULT_KEY"
)

const faultPatience = 30 * time.Second

// TestFixFaultChild is the process that gets killed: it fixes the .env
// file (the keychain through credstore's Put, as scan --fix stores) and
// prints "ready" before and "moved" after the fix. The key comes in its
// environment, never in its arguments.
func TestFixFaultChild(t *testing.T) {
	path := os.Getenv(faultEnvFile)
	if path == "" {
		t.Skip("helper process of TestFixSurvivesSIGKILL")
	}
	st := &credstore.Store{
		Keychain:  keychain.New(keychain.WithService(os.Getenv(faultServiceEnv))),
		StateFile: credstore.StateFile{Dir: os.Getenv(faultStateEnv)},
	}
	fx := Fixer{
		Store: func(ctx context.Context, key string) error {
			_, err := st.Put(ctx, credstore.DefaultProfile, key, credstore.PutOptions{Source: credstore.SourceConfig})
			return err
		},
		Token: tok, URL: ep, SameURL: anyURL,
	}
	key := os.Getenv(faultKeyEnv)
	fmt.Println("ready")
	for {
		if _, err := fx.FixFile(context.Background(), path, key); err == nil {
			fmt.Println("moved")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestFixSurvivesSIGKILL kills scan --fix's rewrite of a .env file at
// random instants, at least 100 times, and checks after each kill that the
// round's key is in the file, in the keychain, or both; that the file is
// never torn (the key's line or the token's, every other line kept); and
// that a backup exists whenever the file no longer holds the key.
func TestFixSurvivesSIGKILL(t *testing.T) {
	testkeyring.Require(t)
	rounds := 120
	if testing.Short() {
		rounds = 20
	}
	home := t.TempDir()
	dir := filepath.Join(home, "proj")
	must(t, os.MkdirAll(dir, 0o700))
	envFile := filepath.Join(dir, ".env")
	service := testkeyring.Service()
	kc := keychain.New(keychain.WithService(service))
	stateDir := filepath.Join(home, "state")
	t.Cleanup(func() {
		_ = kc.Delete(context.Background(), credstore.DefaultProfile)
		if st, err := (credstore.StateFile{Dir: stateDir}).Load(); err == nil {
			for _, d := range st.Displaced[credstore.DefaultProfile] {
				_ = kc.Shelf().Delete(context.Background(), d.Account)
			}
		}
	})

	start := func(key string) *childtest.Child {
		t.Helper()
		return childtest.Start(t, "TestFixFaultChild", faultPatience, faultEnvFile+"="+envFile, faultServiceEnv+"="+service, faultStateEnv+"="+stateDir, faultKeyEnv+"="+key)
	}
	writeRound := func(i int) string {
		key := fmt.Sprintf("sk_SCANFAULTscanfault%04d%015d", i&0x1fff, rand.Int64N(1e15))
		content := fmt.Sprintf("# round %d\nDEBUG=1\nTORALE_API_KEY=%s\nOTHER=x\n", i, key)
		if err := os.WriteFile(envFile, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return key
	}

	var took []time.Duration
	for i := range 3 {
		key := writeRound(-1 - i)
		c := start(key)
		t0 := time.Now()
		if l := c.Next(); l != "moved" {
			c.Kill()
			t.Fatalf("helper never fixed the file: %q", l)
		}
		took = append(took, time.Since(t0))
		c.Kill()
	}
	slices.Sort(took)
	spread := took[1] * 3 / 2
	t.Logf("one fix takes about %s; killing within %s of the start", took[1], spread)

	counts := map[string]int{}
	round := func(i int, spread time.Duration) {
		key := writeRound(i)
		c := start(key)
		time.Sleep(time.Duration(rand.Int64N(int64(max(spread, time.Microsecond)))))
		c.Kill()

		raw, err := os.ReadFile(envFile)
		if err != nil {
			t.Fatalf("round %d: .env gone: %v", i, err)
		}
		s := string(raw)
		keyLine, tokLine := strings.Contains(s, "TORALE_API_KEY="+key+"\n"), strings.Contains(s, "TORALE_API_KEY="+tok+"\nTORALE_API_URL="+ep+"\n")
		if keyLine == tokLine || !strings.HasPrefix(s, fmt.Sprintf("# round %d\nDEBUG=1\n", i)) || !strings.HasSuffix(s, "\nOTHER=x\n") {
			t.Fatalf("round %d: .env torn or lines lost: %q", i, s)
		}
		stored, kerr := kc.Get(context.Background(), credstore.DefaultProfile)
		inKeychain := kerr == nil && stored == key
		backups := 0
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			p := filepath.Join(dir, e.Name())
			if e.Name() == ".env" {
				continue
			}
			b, _ := os.ReadFile(p)
			if strings.Contains(e.Name(), BackupInfix) && strings.Contains(string(b), key) {
				backups++
			} else if strings.Contains(string(b), key) && !inKeychain {
				t.Fatalf("round %d: leftover %s holds a key the keychain does not", i, e.Name())
			}
			_ = os.Remove(p)
		}
		switch {
		case keyLine && inKeychain:
			counts["both"]++
		case keyLine:
			counts["file only"]++
		case inKeychain:
			counts["keychain only"]++
			if backups != 1 {
				t.Fatalf("round %d: the file was rewritten with %d backups beside it", i, backups)
			}
		default:
			t.Fatalf("round %d: key lost: not in the file, keychain holds %s (err %v)", i, apikey.Hint(stored), kerr)
		}
	}
	for i := range rounds {
		round(i, spread)
	}
	extra := 0
	for ; (counts["file only"] == 0 || counts["keychain only"] == 0) && extra < 200; extra++ {
		if counts["keychain only"] == 0 {
			spread = spread * 5 / 4
		} else {
			spread = spread * 4 / 5
		}
		round(rounds+extra, spread)
	}
	t.Logf("after %d kills (%d to find both sides of the move): %v", rounds+extra, extra, counts)
	if counts["file only"] == 0 || counts["keychain only"] == 0 {
		t.Errorf("kills never landed both before and after the move (%v): the test did not exercise the fix", counts)
	}
}
