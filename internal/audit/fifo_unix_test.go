//go:build unix

package audit

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/internal/hangtest"

	"github.com/torale-ai/torale-cred/internal/safefile"
)

// A FIFO at any file of the trail is refused at once by whichever step
// meets it: the append, the first-use set, the reader.
func TestFIFOInTheTrailNeverBlocks(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		full      bool  // the trail is full, so Append rotates (and locks)
		append    error // what Append returns
		written   bool  // Append's line is in the trail all the same
		firstUse  error // what Seen.FirstUse returns
		read      error // what Read returns
		readCount int
	}{
		{name: "audit.jsonl", file: FileName, append: safefile.ErrNotRegular, read: safefile.ErrNotRegular},
		{name: "audit.jsonl.1", file: FileName + ".1", written: true, read: safefile.ErrNotRegular},
		{name: "seen.json", file: SeenFileName, append: safefile.ErrNotRegular, written: true, firstUse: safefile.ErrNotRegular, readCount: 1},
		{name: "audit.lock", file: lockName, append: safefile.ErrNotRegular, written: true, firstUse: safefile.ErrNotRegular, readCount: 1},
		{name: "audit.lock, a full trail", file: lockName, full: true, append: safefile.ErrNotRegular, firstUse: safefile.ErrNotRegular},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			maxBytes := int64(0)
			if tt.full {
				if _, err := Append(dir, 0, Event{Time: time.Unix(1, 0), Profile: "default", KeyHint: "sk_...abcde", Door: "token", Result: ResultDenied}); err != nil {
					t.Fatal(err)
				}
				maxBytes = 1
			}
			if err := syscall.Mkfifo(filepath.Join(dir, tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			err := hangtest.Within(t, func() error { _, err := Append(dir, maxBytes, event(1)); return err })
			if !errors.Is(err, tt.append) || (err == nil) != (tt.append == nil) {
				t.Errorf("Append = %v, want %v", err, tt.append)
			}
			err = hangtest.Within(t, func() error { _, err := (&Seen{Dir: dir}).FirstUse("default", "/usr/bin/new"); return err })
			if !errors.Is(err, tt.firstUse) || (err == nil) != (tt.firstUse == nil) {
				t.Errorf("FirstUse = %v, want %v", err, tt.firstUse)
			}
			var evs []Event
			err = hangtest.Within(t, func() (err error) { evs, _, err = Read(dir, Filter{Since: time.Unix(2, 0)}); return err })
			if !errors.Is(err, tt.read) || (err == nil) != (tt.read == nil) {
				t.Errorf("Read = %v, want %v", err, tt.read)
			}
			if err == nil && len(evs) != tt.readCount {
				t.Errorf("Read %d events, want %d", len(evs), tt.readCount)
			}
			if fi, err := os.Stat(filepath.Join(dir, FileName)); tt.written && (err != nil || fi.Size() == 0) {
				t.Errorf("Append's line was not written: %v", err)
			}
		})
	}
}
