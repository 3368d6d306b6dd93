package credstore

import (
	"errors"
	"strings"
	"testing"
)

// A key pasted where a profile name goes is refused without being echoed.
func TestCheckProfileNeverEchoesAKey(t *testing.T) {
	k := "sk_abc123def456ghi789jkl012mno345pqRST"
	for _, name := range []string{k + "!", k + "/x", " " + k} {
		err := CheckProfile(name)
		if !errors.Is(err, ErrBadProfile) {
			t.Fatalf("CheckProfile accepted a bad name: %v", err)
		}
		if strings.Contains(err.Error(), "abc123def") {
			t.Errorf("CheckProfile echoes the key: %v", err)
		}
	}
}
