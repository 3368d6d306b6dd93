package credstore

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/torale-ai/torale-cred/internal/audit"
	"github.com/torale-ai/torale-cred/internal/peer"
)

// BenchmarkHandOut is what the hand-out point adds to a look-up: the
// policy (open) and a record queued on a real trail, against the same
// look-up with no door (no policy, no record).
func BenchmarkHandOut(b *testing.B) {
	dir := b.TempDir()
	tr := audit.Open(dir, audit.Options{})
	defer tr.Close(context.Background())
	s := &Store{Keychain: &mapKeys{m: map[string]string{DefaultProfile: polKey}},
		StateFile: StateFile{Dir: filepath.Join(dir, "state")}, ConfigPath: filepath.Join(dir, "config.json"),
		Audit: func(e audit.Event) { tr.Record(e) }}
	c := &peer.Caller{PID: 1, Exe: "/usr/bin/curl"}
	for _, bc := range []struct {
		name string
		ctx  context.Context
	}{
		{"no door", peer.With(context.Background(), c)},
		{"door, audited", WithDoor(peer.With(context.Background(), c), DoorSocket)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Resolve(bc.ctx, Request{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
