package daemon

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
)

// countingBackend is an in-memory keychain that counts reads: these tests
// are about when the cache asks, not about the keychain.
type countingBackend struct {
	mu    sync.Mutex
	keys  map[string]string
	reads atomic.Int64
}

func (b *countingBackend) Get(_, user string) (string, error) {
	b.reads.Add(1)
	b.mu.Lock()
	defer b.mu.Unlock()
	if k, ok := b.keys[user]; ok {
		return k, nil
	}
	return "", credstore.ErrNotFound
}

func (b *countingBackend) Set(_, user, key string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.keys[user] = key
	return nil
}

func (b *countingBackend) Delete(_, user string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.keys, user)
	return nil
}

const cacheTestKey = "sk_cacheTEST0000000000000000000000001"

func newCountingCache(t *testing.T, ttl time.Duration, now func() time.Time) (*Cache, *countingBackend) {
	t.Helper()
	b := &countingBackend{keys: map[string]string{"default": cacheTestKey}}
	st := &credstore.Store{
		Keychain:   credstore.NewKeychain(credstore.WithBackend(b)),
		State:      credstore.StateFile{Dir: t.TempDir()},
		ConfigPath: t.TempDir() + "/config.json",
		Now:        now,
	}
	c := NewCache(st, 0, ttl, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Refresh(ctx, 0) }()
	t.Cleanup(func() { cancel(); <-done })
	return c, b
}

// An idle daemon must not wake to re-read keys: with a TTL of 30 ms a
// clock-driven refresh would read many times in 300 ms.
func TestCacheIdleReadsNothing(t *testing.T) {
	c, b := newCountingCache(t, 30*time.Millisecond, nil)
	if k, err := c.StoredKey(context.Background(), "default"); err != nil || k != cacheTestKey {
		t.Fatalf("first look-up: %v", err)
	}
	time.Sleep(50 * time.Millisecond) // let the first kick settle
	before := b.reads.Load()
	time.Sleep(300 * time.Millisecond)
	if got := b.reads.Load() - before; got != 0 {
		t.Fatalf("idle cache read the keychain %d times; want 0", got)
	}
}

// A look-up finding its answer past a third of the TTL is served from
// memory at once and renews it in the background; past the TTL it waits
// for a fresh read. No answer is ever older than the TTL.
func TestCacheRenewsOnDemand(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	advance := func(d time.Duration) { clock.Add(int64(d)) }
	c, b := newCountingCache(t, time.Minute, now)
	ctx := context.Background()

	if _, err := c.StoredKey(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	if got := b.reads.Load(); got != 1 {
		t.Fatalf("first look-up: %d reads, want 1", got)
	}
	advance(10 * time.Second)
	if _, err := c.StoredKey(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if got := b.reads.Load(); got != 1 {
		t.Fatalf("young answer: %d reads, want 1 (served from memory)", got)
	}

	// Change the key behind the daemon's back, then look up at 30 s: the
	// old answer is served (within its bound) and a renewal is started.
	_ = b.Set("", "default", cacheTestKey[:len(cacheTestKey)-1]+"2")
	advance(20 * time.Second)
	if k, _ := c.StoredKey(ctx, "default"); k != cacheTestKey {
		t.Fatalf("ageing answer: got the new key at once; want the cached one served without waiting")
	}
	deadline := time.Now().Add(2 * time.Second)
	for b.reads.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := b.reads.Load(); got != 2 {
		t.Fatalf("ageing answer: %d reads, want 2 (one background renewal)", got)
	}
	deadline = time.Now().Add(2 * time.Second)
	for {
		k, _ := c.StoredKey(ctx, "default")
		if k != cacheTestKey {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the renewal never reached look-ups")
		}
		time.Sleep(5 * time.Millisecond)
	}

	// Past the TTL with no look-up in between: the next one reads first.
	_ = b.Set("", "default", cacheTestKey)
	advance(2 * time.Minute)
	if k, _ := c.StoredKey(ctx, "default"); k != cacheTestKey {
		t.Fatalf("expired answer served: want a fresh read")
	}
}
