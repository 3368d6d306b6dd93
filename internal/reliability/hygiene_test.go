//go:build linux

package reliability

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/torale-ai/torale-cred/internal/proctest"
)

// TestHygieneCheckCanFail plants a key in a captured log and in a file
// deep under the world's HOME: the scan every other test ends with must
// find both, or its "none found" would mean nothing.
func TestHygieneCheckCanFail(t *testing.T) {
	parallel(t)
	w := newWorld(t)
	w.noHygien = true
	key := newKey(t)
	w.use(key)
	log := &proctest.SyncBuf{}
	_, _ = log.Write([]byte("level=INFO msg=stored key=" + key + "\n"))
	w.logs = append(w.logs, log)
	deep := filepath.Join(w.Home, ".local", "state", "torale-cred", "state.json")
	if err := os.MkdirAll(filepath.Dir(deep), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, deep, `{"version":1,"oops":"`+key+`"}`)
	found, files := w.scan()
	if len(found) != 2 || files != 1 || !strings.Contains(found[0], "log #0") || !strings.Contains(found[1], "state.json") {
		t.Fatalf("scan found %q in %d files, want the log and state.json", found, files)
	}
	for _, f := range found {
		if strings.Contains(f, key) {
			t.Fatalf("the finding quotes the key: %s", f)
		}
	}
}
