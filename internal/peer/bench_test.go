package peer

import (
	"os"
	"testing"
)

// BenchmarkIdentify is what a new connection pays to name its peer.
func BenchmarkIdentify(b *testing.B) {
	pid := os.Getpid()
	for b.Loop() {
		Identify(pid, 0)
	}
}

// BenchmarkIdentifier is the same with the server's memory of chains.
func BenchmarkIdentifier(b *testing.B) {
	pid := os.Getpid()
	var id Identifier
	for b.Loop() {
		id.Identify(pid, 0)
	}
}
