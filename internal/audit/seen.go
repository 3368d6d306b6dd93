package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/torale-ai/torale-cred/internal/atomicfile"
	"github.com/torale-ai/torale-cred/internal/safefile"
)

// SeenFileName holds, per profile, the executables that have received its
// key: paths only, no secret.
const SeenFileName = "seen.json"

type seenFile struct {
	Version  int                 `json:"version"`
	Profiles map[string][]string `json:"profiles"`
}

// Seen is the first-use set in a state directory. The daemon keeps it in
// memory after the first read; every addition is merged into the file
// under a lock, so a command and the daemon never lose each other's.
type Seen struct {
	Dir string
	mem map[string]map[string]bool
	// wait bounds each wait for audit.lock (appendLockWait when 0).
	wait time.Duration
}

func (s *Seen) path() string { return filepath.Join(s.Dir, SeenFileName) }

// maxSeenSize bounds what is read: seen.json holds a path per program.
const maxSeenSize = 4 << 20

// load reads seen.json through safefile: a FIFO, device or link at the
// path, or an untrusted directory or file, is refused at once.
func (s *Seen) load() (seenFile, error) {
	sf := seenFile{Version: 1, Profiles: map[string][]string{}}
	b, err := safefile.ReadFile(s.path(), safefile.Options{MaxSize: maxSeenSize})
	if errors.Is(err, fs.ErrNotExist) {
		return sf, nil
	}
	if err != nil {
		return sf, fmt.Errorf("reading the set of programs seen: %w", err)
	}
	if err := json.Unmarshal(b, &sf); err != nil {
		return sf, fmt.Errorf("%s is not valid JSON: %w", s.path(), err)
	}
	if sf.Profiles == nil {
		sf.Profiles = map[string][]string{}
	}
	return sf, nil
}

// FirstUse records that exe received profile's key and reports whether
// that is new. An unknown executable is never "new": there is nothing to
// name.
func (s *Seen) FirstUse(profile, exe string) (bool, error) {
	if exe == "" {
		return false, nil
	}
	if s.mem == nil {
		sf, err := s.load()
		if err != nil {
			return false, err
		}
		s.mem = map[string]map[string]bool{}
		for p, exes := range sf.Profiles {
			s.mem[p] = map[string]bool{}
			for _, e := range exes {
				s.mem[p][e] = true
			}
		}
	}
	if s.mem[profile][exe] {
		return false, nil
	}
	isNew, err := s.add(profile, exe)
	if err != nil {
		return false, err
	}
	if s.mem[profile] == nil {
		s.mem[profile] = map[string]bool{}
	}
	s.mem[profile][exe] = true
	return isNew, nil
}

// add merges exe into the file; false when another process had added it.
// It waits at most s.wait for audit.lock; then it fails (wrapping
// filelock.ErrBusy) and exe stays unrecorded, to be tried again next time.
func (s *Seen) add(profile, exe string) (bool, error) {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return false, err
	}
	wait := s.wait
	if wait <= 0 {
		wait = appendLockWait
	}
	unlock, err := lock(s.Dir, wait)
	if err != nil {
		return false, err
	}
	defer unlock()
	sf, err := s.load()
	if err != nil {
		return false, err
	}
	if slices.Contains(sf.Profiles[profile], exe) {
		return false, nil
	}
	sf.Profiles[profile] = append(sf.Profiles[profile], exe)
	b, err := json.MarshalIndent(sf, "", "  ")
	if err != nil {
		return false, err
	}
	return true, atomicfile.Write(s.path(), append(b, '\n'), 0o600)
}

// firstUses runs the first-use alert for a written batch's events. The
// first failure ends the batch's work (logged once while it lasts), so a
// held audit.lock costs a batch one bounded wait, not one per event; a
// program not yet recorded is named when it next receives the key.
func (t *Trail) firstUses(events []Event) {
	if t.o.FirstUse == nil {
		return
	}
	for _, e := range events {
		if !e.HandedOut() {
			continue
		}
		isNew, err := t.seen.FirstUse(e.Profile, e.Caller.Exe)
		if err != nil {
			if !t.seenFailing {
				t.seenFailing = true
				t.log.Warn("audit trail: cannot keep the set of programs seen; a program's first use is named once it can be", "err", err)
			}
			return
		}
		if isNew {
			t.o.FirstUse(e)
		}
	}
	if t.seenFailing {
		t.seenFailing = false
		t.log.Info("audit trail: keeping the set of programs seen again")
	}
}

// FirstUseAlert is the desktop alert for a program's first use of a
// profile's key: one wording whether the daemon's trail or a command that
// wrote its own line (TORALE_CRED_NO_DAEMON=1) saw it first.
func FirstUseAlert(e Event) (title, body string) {
	return "Torale API key: a new program",
		fmt.Sprintf("%s received the key %s of profile %q for the first time (through %s). See: torale-cred audit", e.Caller.Program(), e.KeyHint, e.Profile, e.Door)
}
