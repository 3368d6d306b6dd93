package atomicfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A write that lands in the last instant before the swap, in place or by
// rename, is never lost: the swap is undone and the caller told.
func TestSwapNeverLosesALastInstantWrite(t *testing.T) {
	for _, how := range []string{"in place", "by rename", "none"} {
		t.Run(how, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "config.json")
			old := []byte(`{"api_key":"one","x":1}`)
			if err := os.WriteFile(path, old, 0o600); err != nil {
				t.Fatal(err)
			}
			read, _ := os.Lstat(path)
			late := []byte(`{"api_key":"two","x":1}`)
			s := Swap{
				Same: func(b []byte, fi os.FileInfo) bool { return bytes.Equal(b, old) && os.SameFile(fi, read) },
				beforeSwap: func() {
					switch how {
					case "in place":
						_ = os.WriteFile(path, late, 0o600)
					case "by rename":
						_ = os.WriteFile(path+".new", late, 0o600)
						_ = os.Rename(path+".new", path)
					}
				},
			}
			err := s.Write(path, []byte(`{"x":1}`), 0o600)
			got, _ := os.ReadFile(path)
			if how == "none" {
				if err != nil || string(got) != `{"x":1}` {
					t.Fatalf("plain rewrite: %v, file %s", err, got)
				}
			} else if !errors.Is(err, ErrDisplacedChanged) || !bytes.Equal(got, late) {
				t.Fatalf("late write %s: err %v, file %s; want the late write kept", how, err, got)
			}
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				if strings.HasSuffix(e.Name(), ".tmp") {
					t.Errorf("left %s behind", e.Name())
				}
			}
		})
	}
}
