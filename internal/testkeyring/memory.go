package testkeyring

import (
	"maps"
	"sync"

	"github.com/zalando/go-keyring"
)

// Memory is a keyring in memory for tests that need no Secret Service: the
// raw API a keychain.Keychain takes (keychain.WithKeyring), answering a
// missing entry with go-keyring's own keyring.ErrNotFound, as the real
// backend does. The zero value is empty and ready; safe for concurrent use
// (the Keychain calls it from its own goroutine).
type Memory struct {
	mu sync.Mutex
	m  map[string]string
}

func (b *Memory) Get(service, user string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.m[service+"/"+user]
	if !ok {
		return "", keyring.ErrNotFound
	}
	return v, nil
}

func (b *Memory) Set(service, user, password string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[string]string{}
	}
	b.m[service+"/"+user] = password
	return nil
}

func (b *Memory) Delete(service, user string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.m[service+"/"+user]; !ok {
		return keyring.ErrNotFound
	}
	delete(b.m, service+"/"+user)
	return nil
}

// Entries is a copy of what it holds, by "service/user".
func (b *Memory) Entries() map[string]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return maps.Clone(b.m)
}
