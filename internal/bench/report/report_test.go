package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/internal/proctest"
	"github.com/torale-ai/torale-cred/internal/testkeyring"
)

// TestMain lets the test binary play the echo floor, torale-cred and
// git-credential-torale, as the report program does when given no -bin.
func TestMain(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		os.Exit(runRole(role))
	}
	os.Exit(m.Run())
}

// TestQuickReport runs the whole report with tiny counts, so `make test`
// proves `make bench` still works: every figure present, every target
// judged, the file written, and no key anywhere in it.
func TestQuickReport(t *testing.T) {
	testkeyring.Require(t)
	o := quickOptions()
	o.n, o.keychainN, o.procN, o.starts, o.exposureN = 100, 3, 2, 2, 3
	o.tput = []tputRun{{1, 200}, {8, 400}, {64, 1000}}
	o.idle = 300 * time.Millisecond
	o.out = filepath.Join(t.TempDir(), "docs", "benchmarks.md")
	o.bin = buildCommands(t)
	var stdout, progress bytes.Buffer
	start := time.Now()
	err := run(t.Context(), o, &stdout, &progressLog{t: t, start: start, buf: &progress})
	if err != nil {
		t.Fatalf("report: %v", err)
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
		"## Machine", "| CPU model |", "| kernel |", "| Go |",
		"## Look-up latency", "raw Unix-socket echo (the floor)", "`/v1/resolve`, keep-alive", "`/v1/resolve`, new connection",
		"direct go-keyring read", "`torale-cred token`, daemon running", "`torale-cred token`, no daemon",
		"`git-credential-torale get`, daemon running",
		"## A look-up as a process", "static Go binary writing one line (the process floor)",
		"direct go-keyring read, as a process", "minimal Go client of the daemon, as a process", "minimal Go client, one-thread blocking server", "minimal Go client, net/http server",
		"Where `torale-cred token`'s", "| `torale-cred version` | ", "≤ 1.2× `git credential-cache get`",
		"## Throughput", "| 64 | 1,000 | 0 |",
		"## Daemon memory", "## Idle cost", "wake-ups (voluntary context switches",
		"## Plaintext exposure window", "| 3 |",
		"## Start-up", "| 2 |",
		"## Targets", "≤ 3× the cross-process raw echo", "plaintext exposure window max < 100 ms",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("the report lacks %q:\n%s", want, doc)
		}
	}
	// A figure that failed shows as "–" with its reason; the socket and
	// torale-cred rows must all have been measured.
	for _, line := range strings.Split(doc, "\n") {
		if (strings.Contains(line, "/v1/resolve") || strings.Contains(line, "torale-cred token") || strings.Contains(line, "git-credential-torale get") ||
			strings.Contains(line, "process floor") || strings.Contains(line, ", as a process") || strings.Contains(line, "minimal Go client")) &&
			strings.HasPrefix(line, "| ") && strings.Contains(line, "| – |") {
			t.Errorf("a figure is missing: %s", line)
		}
	}
	if strings.Contains(doc, "not measured") || strings.Contains(doc, "Failed:") {
		t.Errorf("something was not measured:\n%s", doc)
	}
	if regexp.MustCompile(`sk_[A-Za-z0-9_-]{20,}`).MatchString(doc + progress.String()) {
		t.Error("a key appears in the report or its progress lines")
	}
}

// buildCommands builds the shipped programs as make build does (static,
// trimmed paths): the race-instrumented test binary playing them would
// start too slowly for a quick run.
func buildCommands(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not on PATH")
	}
	dir := t.TempDir()
	if err := proctest.BuildPrograms(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// progressLog logs each progress line with the time since the start, and
// keeps a copy.
type progressLog struct {
	t     *testing.T
	start time.Time
	buf   *bytes.Buffer
}

func (p *progressLog) Write(b []byte) (int, error) {
	p.buf.Write(b)
	p.t.Logf("%5.1fs %s", time.Since(p.start).Seconds(), strings.TrimSpace(string(b)))
	return len(b), nil
}
