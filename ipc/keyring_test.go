package ipc_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/internal/testkeyring"
	"github.com/torale-ai/torale-cred/ipc"
)

// TestRealKeychainOverTheSocket: the real Store over the test Secret
// Service (.ci/with-keyring), served on the socket and used through
// ipc.Client: a key stored through the daemon is in the OS keychain, is
// answered back, and is gone after a delete.
func TestRealKeychainOverTheSocket(t *testing.T) {
	testkeyring.Require(t)
	svc := testkeyring.Service()
	kc := keychain.New(keychain.WithService(svc))
	dir := t.TempDir()
	st := &credstore.Store{Keychain: kc, StateFile: credstore.StateFile{Dir: filepath.Join(dir, "state")}, ConfigPath: filepath.Join(dir, "config.json")}
	sock, _ := serve(t, st, ipc.Options{})
	c := ipc.NewClient(sock, 10*time.Second)
	defer c.Close()
	ctx := credstore.WithDoor(t.Context(), credstore.DoorToken) // a door: a key is handed out
	t.Cleanup(func() { _ = kc.Delete(ctx, "default") })

	if err := c.Health(ctx); err != nil {
		t.Fatalf("health: %v", err)
	}
	if _, err := c.Resolve(ctx, credstore.Request{}); !errors.Is(err, storeerr.ErrNotFound) {
		t.Fatalf("empty keychain: %v", err)
	}
	if _, err := c.Put(ctx, "default", testKey, credstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if k, err := kc.Get(ctx, "default"); err != nil || k != testKey {
		t.Fatalf("the OS keychain holds %q, %v", k, err)
	}
	r, err := c.Resolve(ctx, credstore.Request{})
	if err != nil || r.Key != testKey || r.KeySource != credstore.FromKeychain || r.Rotation == nil {
		t.Fatalf("resolve: %+v %v", r, err)
	}
	if err := c.Delete(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.Get(ctx, "default"); !errors.Is(err, storeerr.ErrNotFound) {
		t.Fatalf("after delete the keychain says %v", err)
	}
}
