package ipc

import (
	"testing"

	"github.com/torale-ai/torale-cred/credstore"
)

// BenchmarkDecodeRequest is the strict decoding of the request the CLI
// sends (its own paths and a few variables in env).
func BenchmarkDecodeRequest(b *testing.B) {
	body := []byte(`{"profile":"default","env":{"TORALE_PROFILE":"default","TORALE_CONFIG":"/home/u/.torale/config.json","TORALE_CRED_STATE_DIR":"/home/u/.local/state/torale-cred","PATH":"/usr/bin:/bin","HOME":"/home/u"}}`)
	b.ReportAllocs()
	for b.Loop() {
		var req credstore.Request
		if err := decodeStrict(body, &req); err != nil {
			b.Fatal(err)
		}
	}
}
