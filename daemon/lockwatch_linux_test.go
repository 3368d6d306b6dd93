package daemon

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/internal/childtest"
	"github.com/torale-ai/torale-cred/internal/testkeyring"
)

// TestLockSignalStopsKeysAtOnce: the keychain's health record never ages
// here (a frozen clock), so only the Secret Service's own lock signal can
// make the key cache stop handing out the key it holds: it must, and the
// unlock signal must bring it back.
//
// It locks a Secret Service of its own, on a private bus, in a child
// process: a lock on the suite's shared one failed whatever other test
// used the keychain at that moment. So it runs beside the others.
func TestLockSignalStopsKeysAtOnce(t *testing.T) {
	t.Parallel()
	testkeyring.Require(t)
	const password = "lockwatch-test"
	if !childtest.IsChild(t) {
		bus := testkeyring.PrivateBus(t)
		testkeyring.StartKeyring(t, bus, t.TempDir(), password)
		childtest.Run(t, "DBUS_SESSION_BUS_ADDRESS="+bus)
		return
	}
	bus := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	svc := testkeyring.Service()
	kc := keychain.New(keychain.WithService(svc))
	ctx := t.Context()
	t.Cleanup(func() { _ = kc.Delete(context.Background(), "default") })
	if err := kc.Set(ctx, "default", "sk_LOCKlockLOCKlockLOCKlockLOCKlock0001"); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	h := newHealth(kc, func() time.Time { return frozen }, log)
	c := newKeyCache(kc, time.Hour, func() time.Time { return frozen }, h)
	if _, err := c.Get(ctx, "default"); err != nil {
		t.Fatalf("first read: %v", err)
	}
	d := &Daemon{health: h, log: log}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = d.followLockSignals(wctx, bus) }()
	defer func() { stop(); <-done }()
	time.Sleep(200 * time.Millisecond) // the match rules are in place (no signal is missed below: the poll waits for the outcome)

	testkeyring.Lock(t, bus)
	t.Cleanup(func() {
		if l, _ := testkeyring.Locked(bus); l {
			testkeyring.Unlock(t, bus, password)
		}
	})
	waitUntil(t, "the cache refuses the key once the keychain is locked", func() bool {
		_, err := c.Get(ctx, "default")
		return errors.Is(err, storeerr.ErrKeychain)
	})
	testkeyring.Unlock(t, bus, password)
	waitUntil(t, "the cache serves the key again once unlocked", func() bool {
		_, err := c.Get(ctx, "default")
		return err == nil
	})
}
