package daemon_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/vault"
	"github.com/torale-ai/torale-cred/internal/proctest"
	"github.com/torale-ai/torale-cred/internal/vaulttest"
	"github.com/torale-ai/torale-cred/ipc"
)

// TestVaultFollowBench is make bench-vault's figure, not a test: N real
// daemon processes (TORALE_CRED_VAULT_BENCH=N, built programs, the default
// 1 s poll) follow one Vault secret; after one kv put, how long until each
// serves the new version (p50, max). Skipped unless asked for.
func TestVaultFollowBench(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("TORALE_CRED_VAULT_BENCH"))
	if n <= 0 {
		t.Skip("TORALE_CRED_VAULT_BENCH=N runs N daemons following one Vault (make bench-vault)")
	}
	v := vaulttest.Start(t)
	v.Policy(t, "read", `path "secret/data/torale/*" { capabilities = ["read"] }
path "secret/metadata/torale/*" { capabilities = ["read"] }`)
	v.Put(t, "secret", "torale/bench", map[string]any{"api_key": vaulttest.Key(1)})
	bin, done, err := proctest.Programs()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(done)
	tokFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokFile, []byte(v.Token(t, &vaultapi.TokenCreateRequest{Policies: []string{"read"}})), 0o600); err != nil {
		t.Fatal(err)
	}
	spec := credstore.StoreSpec{Kind: credstore.StoreVault, Vault: &vault.Spec{Addr: v.Addr, Mount: "secret", Path: "torale/bench", TokenFile: tokFile}}
	socks := make([]string, n)
	for i := range n {
		w := proctest.NewWorld(t)
		w.Bin = bin
		st := credstore.StateFile{Dir: w.State}
		if err := st.Update(func(s *credstore.State) error {
			s.Stores = map[string]credstore.StoreSpec{"bench": spec}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		w.Daemon(t, nil, "--no-endpoint", "--no-watch")
		socks[i] = w.Sock
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	waitAll := func(want string) []time.Duration {
		start := time.Now()
		took := make([]time.Duration, n)
		var wg sync.WaitGroup
		for i, sock := range socks {
			wg.Go(func() {
				c := ipc.NewClient(sock, 10*time.Second)
				defer c.Close()
				for ctx.Err() == nil {
					if r, err := c.Resolve(credstore.WithDoor(ctx, credstore.DoorToken), credstore.Request{Profile: "bench"}); err == nil && r.Key == want {
						took[i] = time.Since(start)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
			})
		}
		wg.Wait()
		if ctx.Err() != nil {
			t.Fatalf("not every daemon served %s...", want[:7])
		}
		slices.Sort(took)
		return took
	}
	waitAll(vaulttest.Key(1))
	// Vault's own audit device counts the requests it answers.
	auditLog := filepath.Join(t.TempDir(), "vault-audit.log")
	v.Write(t, "sys/audit/file", map[string]any{"type": "file", "options": map[string]any{"file_path": auditLog}})
	requests := func() int {
		b, _ := os.ReadFile(auditLog)
		return strings.Count(string(b), `"type":"request"`)
	}
	const idle = 5 * time.Second
	r0 := requests()
	time.Sleep(idle) // idle, every follower on its own 1 s beat
	idleRate := float64(requests()-r0) / idle.Seconds()
	r1 := requests()
	v.Put(t, "secret", "torale/bench", map[string]any{"api_key": vaulttest.Key(2)})
	took := waitAll(vaulttest.Key(2))
	time.Sleep(2*time.Second - took[len(took)-1])
	afterRate := float64(requests()-r1) / 2
	p50, maxT := took[len(took)/2], took[len(took)-1]
	line := fmt.Sprintf("%d daemons following one Vault (1 s poll): kv put to serving the new version: p50 %s, max %s; Vault's requests: %.1f/s idle, %.1f/s in the 2 s after the put",
		n, p50.Round(time.Millisecond), maxT.Round(time.Millisecond), idleRate, afterRate)
	t.Log(line)
	fmt.Fprintln(os.Stderr, line)
	if maxT > 5*time.Second {
		t.Errorf("the last daemon served the new version %s after the put; the goal is 5 s", maxT)
	}
}
