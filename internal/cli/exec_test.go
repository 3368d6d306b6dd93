package cli

import (
	"slices"
	"testing"

	"github.com/torale-ai/torale-cred/credstore"
)

func TestChildEnv(t *testing.T) {
	base := []string{"PATH=/bin", "TORALE_API_KEY=sk_old", "TORALE_API_URL=http://old", "TORALE_PROFILE=work", "HOME=/h"}
	got := childEnv(base, credstore.Resolution{Key: "sk_new", URL: "https://api.torale.ai"})
	want := []string{"PATH=/bin", "TORALE_PROFILE=work", "HOME=/h", "TORALE_API_KEY=sk_new", "TORALE_API_URL=https://api.torale.ai"}
	if !slices.Equal(got, want) {
		t.Fatalf("childEnv = %q, want %q", got, want)
	}
	// No key (TORALE_NOAUTH=1): the variable is gone, not empty.
	got = childEnv(base, credstore.Resolution{URL: "http://localhost:8000", NoAuth: true})
	want = []string{"PATH=/bin", "TORALE_PROFILE=work", "HOME=/h", "TORALE_API_URL=http://localhost:8000"}
	if !slices.Equal(got, want) {
		t.Fatalf("childEnv without key = %q, want %q", got, want)
	}
}
