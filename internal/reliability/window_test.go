//go:build linux

package reliability

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/internal/testkeyring"
)

// TestRewriteWindowLosesNothing is reliability finding 4: a key the
// official CLI writes while the daemon rewrites config.json (between its
// last look and its rename) must end in the keychain or the file. strace
// (as root) delays the rewrite's rename at entry, so the window between the
// last look and the rename is wide; the test waits for the rewrite's
// temporary file, then writes a second key inside that window, in place or
// by rename in turn.
func TestRewriteWindowLosesNothing(t *testing.T) {
	testkeyring.Require(t)
	if os.Geteuid() != 0 {
		t.Skip("strace -p needs root")
	}
	if _, err := exec.LookPath("strace"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("strace is needed (.ci/deps installs it)")
		}
		t.Skip("strace is not installed")
	}
	rounds := 60
	if full() {
		rounds = 1000
	}
	w := newWorld(t)
	d := w.Daemon(t, nil)
	const delay = 40 * time.Millisecond
	st := exec.Command("strace", "-f", "-qq", "-o", "/dev/null", "-p", fmt.Sprint(d.PID()),
		"-e", "trace=rename,renameat,renameat2",
		"-e", fmt.Sprintf("inject=rename,renameat,renameat2:delay_enter=%d", delay.Microseconds()))
	if err := st.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Process.Kill(); _ = st.Wait() }()
	time.Sleep(300 * time.Millisecond) // attached to every thread

	kc := credstore.NewKeychain(credstore.WithService(w.Service))
	dir := filepath.Dir(w.Config)
	write := func(content string, inPlace bool) {
		if inPlace {
			_ = os.WriteFile(w.Config, []byte(content), 0o600)
			return
		}
		tmp := filepath.Join(dir, "writer.tmp")
		_ = os.WriteFile(tmp, []byte(content), 0o600)
		_ = os.Rename(tmp, w.Config)
	}
	lost, inFile, inKeychain := 0, 0, 0
	for i := range rounds {
		first, second := newKey(t), newKey(t)
		w.use(first)
		w.use(second)
		write(fmt.Sprintf(`{"api_key":%q,"api_url":"https://window.example","round":%d}`, first, i), false)
		// Land the second write inside the slowed rename: once the rewrite's
		// temporary file exists, its last look is moments away.
		waitTemp(dir, 2*time.Second)
		time.Sleep(time.Duration(5+i%20) * time.Millisecond)
		write(fmt.Sprintf(`{"api_key":%q,"api_url":"https://window.example","round":%d}`, second, i), i%2 == 0)
		var fileHas, kcHas bool
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			b, _ := os.ReadFile(w.Config)
			k, _ := kc.Get(t.Context(), "default")
			fileHas, kcHas = strings.Contains(string(b), second), k == second
			if kcHas && !strings.Contains(string(b), "api_key") {
				break // settled: moved
			}
			time.Sleep(5 * time.Millisecond)
		}
		switch {
		case kcHas:
			inKeychain++
		case fileHas:
			inFile++
		default:
			lost++
			t.Errorf("round %d: the second key is neither in config.json nor in the keychain", i)
		}
	}
	es, _ := os.ReadDir(dir)
	var recovered []string
	for _, e := range es {
		if strings.Contains(e.Name(), ".recovered-") || strings.Contains(e.Name(), ".kept-") {
			recovered = append(recovered, e.Name())
		}
	}
	t.Logf("%d rounds with the rewrite's rename delayed %v: second key in keychain %d, only in file %d, lost %d; kept aside %v", rounds, delay, inKeychain, inFile, lost, recovered)
	report.add("Faults", fmt.Sprintf("a second key written (in place or by rename) inside the daemon's rewrite of config.json, between its last look and its rename (strace delays the rename %v), %d rounds", delay, rounds),
		"the second key never lost: in the keychain once the watcher settles",
		fmt.Sprintf("in the keychain %d, only in config.json %d, lost %d", inKeychain, inFile, lost), okStr(lost == 0 && inFile == 0))
}

// waitTemp waits for a rewrite's temporary file (".config.json.N.tmp").
func waitTemp(dir string, limit time.Duration) {
	end := time.Now().Add(limit)
	for time.Now().Before(end) {
		es, _ := os.ReadDir(dir)
		for _, e := range es {
			if strings.HasPrefix(e.Name(), ".config.json.") && strings.HasSuffix(e.Name(), ".tmp") {
				return
			}
		}
		time.Sleep(500 * time.Microsecond)
	}
}
