package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/torale-ai/torale-cred/internal/proctest"
	"github.com/torale-ai/torale-cred/internal/testkeyring"
)

// TestMain lets the test binary be the echo floor, as the bench program is.
func TestMain(m *testing.M) {
	if os.Getenv(roleEnv) == "floor" {
		if err := serveFloor(os.Args[1]); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestQuick runs the bench with tiny counts (torale-cred's rows, git's
// cache, the socket and throughput), so `make test` proves `make bench`
// still works: every row measured, every goal judged, the file written,
// no key in it. It never judges speed.
func TestQuick(t *testing.T) {
	testkeyring.Require(t)
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("git is not installed; .ci/deps installs it")
		}
		t.Skip("git is not installed (git credential-cache is the reference row); run .ci/deps")
	}
	bin, done, err := proctest.Programs()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(done)
	o := quickOptions()
	o.bin, o.out = bin, filepath.Join(t.TempDir(), "benchmarks.md")
	var stdout, progress bytes.Buffer
	if err := run(t.Context(), o, &stdout, &progress); err != nil {
		t.Fatalf("bench: %v\n%s", err, progress.String())
	}
	file, err := os.ReadFile(o.out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(file, stdout.Bytes()) {
		t.Error("the file differs from what was printed")
	}
	doc := string(file)
	for _, want := range []string{
		"| `true` (the floor) |", "| `git credential-cache get` |", "| `torale-cred token` |", "| `git-credential-torale get` |",
		"| torale-cred daemon, `/v1/resolve` |", "look-ups/s**, 0 errors", "The echo floor, asked the same way just before",
		"≤ 2× `git credential-cache get` (p50)", "| added by the endpoint |", "the endpoint adds ≤ 1 ms", "≤ 3× the echo floor (p50)", "≥ 30,000 look-ups/s from 64 keep-alive clients",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("the report lacks %q:\n%s", want, doc)
		}
	}
	if n := strings.Count(doc, "**PASS**") + strings.Count(doc, "**MISS**"); n != 5 {
		t.Errorf("%d goals judged, want 5 (2 per door, socket, throughput, endpoint):\n%s", n, doc)
	}
	if regexp.MustCompile(`sk_[A-Za-z0-9_-]{20,}`).MatchString(doc + progress.String()) {
		t.Error("a key appears in the report or its progress lines")
	}
}
