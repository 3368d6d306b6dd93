//go:build unix

package credstore

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/internal/peer"
)

// Issue 25: `policy set default allow /usr/bin/python3` then denied
// python3, whose executable the kernel names /usr/bin/python3.11 (the link
// resolved). Programs are compared by resolved path.
func TestPolicyFollowsSymlinks(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "python3.11")
	link := filepath.Join(dir, "python3")
	other := filepath.Join(dir, "perl")
	for _, p := range []string{real, other} {
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("python3.11", link); err != nil {
		t.Fatal(err)
	}
	f := newPolicyFixture(t, answerAlways, nil)
	if err := f.store.SetPolicy(DefaultProfile, Policy{Mode: PolicyAllow, Allow: []string{link}}); err != nil {
		t.Fatal(err)
	}
	python := &peer.Caller{PID: 50, Exe: real, Comm: "python3"}
	if r, err := f.store.Resolve(lookupAs(python, DoorSocket), Request{}); err != nil || r.Key != polKey {
		t.Fatalf("python3.11 under allow python3: key %q, %v; want the key", apikey.Hint(r.Key), err)
	}
	perl := &peer.Caller{PID: 51, Exe: other, Comm: "perl"}
	if _, err := f.store.Resolve(lookupAs(perl, DoorSocket), Request{}); !errors.Is(err, ErrDenied) {
		t.Fatalf("perl under allow python3: %v; want denied", err)
	}

	// "Allow always" for a program a listed link already names adds nothing.
	if err := f.store.SetPolicy(DefaultProfile, Policy{Mode: PolicyConfirm, Allow: []string{link}}); err != nil {
		t.Fatal(err)
	}
	if err := f.store.allowAlways(DefaultProfile, real); err != nil {
		t.Fatal(err)
	}
	st, err := f.store.StateFile.Load()
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Policies[DefaultProfile].Allow; len(got) != 1 || got[0] != link {
		t.Errorf("allow list after allow always = %q, want [%s]", got, link)
	}
}
