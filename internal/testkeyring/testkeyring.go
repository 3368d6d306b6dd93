// Package testkeyring is for tests only: it lets them find the real Secret
// Service that `make test` starts (.ci/with-keyring) and keep their entries
// apart, and gives pure unit tests a keyring in memory (Memory).
package testkeyring

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
)

// Available reports whether .ci/with-keyring started a private keyring.
func Available() bool { return os.Getenv("TORALE_CRED_TEST_KEYRING") == "1" }

// Require skips t without a test keyring, or fails it when CI or
// TORALE_CRED_REQUIRE_KEYRING=1 says one must be there: a keychain test that
// silently skips in CI would be a test that cannot fail.
func Require(t testing.TB) {
	t.Helper()
	if Available() {
		return
	}
	if os.Getenv("CI") != "" || os.Getenv("TORALE_CRED_REQUIRE_KEYRING") == "1" {
		t.Fatal("no test Secret Service: run the tests through `make test` (.ci/with-keyring)")
	}
	t.Skip("no test Secret Service; run `make test` to use a real one")
}

// Service returns a keychain service name unique to this test, so tests
// running in parallel never see each other's entries.
func Service() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "torale-test-" + hex.EncodeToString(b)
}
