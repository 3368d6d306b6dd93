package audit

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/torale-ai/torale-cred/internal/safefile"
)

// Filter selects events; zero fields select everything.
type Filter struct {
	Since   time.Time
	Profile string
	KeyHint string
}

func (f Filter) match(e Event) bool {
	return (f.Since.IsZero() || !e.Time.Before(f.Since)) &&
		(f.Profile == "" || e.Profile == f.Profile) &&
		(f.KeyHint == "" || e.KeyHint == f.KeyHint)
}

// maxLine bounds one line; a longer one is skipped as not an event.
const maxLine = 64 << 10

// maxReadBytes bounds each file Read takes in: the trail keeps its files
// near DefaultMaxBytes, so one many times that size is not the trail's
// and is refused rather than read into memory.
const maxReadBytes = 16 * DefaultMaxBytes

// Read returns dir's events that match f, oldest first, from the rotated
// file and the current one, and how many lines were not events (a torn
// last line, an edit). A missing trail is no events. Each file is opened
// through safefile.Open: an untrusted directory or file, a FIFO, device or
// link at its path, or a file past maxReadBytes is an error at once.
func Read(dir string, f Filter) (events []Event, bad int, err error) {
	for _, name := range []string{FileName + ".1", FileName} {
		fh, _, err := safefile.Open(filepath.Join(dir, name), safefile.Options{MaxSize: maxReadBytes})
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		sc := bufio.NewScanner(io.LimitReader(fh, maxReadBytes))
		sc.Buffer(make([]byte, 4096), maxLine)
		for sc.Scan() {
			e, err := ParseLine(sc.Bytes())
			if err != nil {
				bad++
				continue
			}
			if f.match(e) {
				events = append(events, e)
			}
		}
		if err := sc.Err(); err != nil {
			bad++
		}
		fh.Close()
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].Time.Before(events[j].Time) })
	return events, bad, nil
}

// Usage is one program's use of one key in a period.
type Usage struct {
	Profile string    `json:"profile"`
	KeyHint string    `json:"key_hint"`
	Exe     string    `json:"exe"`
	Count   int       `json:"count"`
	Denied  int       `json:"denied"`
	Last    time.Time `json:"last"`
	Units   []string  `json:"units,omitempty"`
	Doors   []string  `json:"doors"`
	SSH     bool      `json:"ssh"`
}

// Summarize groups events by key and executable (a caller with no known
// executable by its command name), busiest first within each key.
func Summarize(events []Event) []Usage {
	type k struct{ profile, hint, exe string }
	idx := map[k]int{}
	var out []Usage
	for _, e := range events {
		if e.Action != "" {
			continue // a key stored or removed: nobody received one
		}
		exe := ""
		var unit string
		var ssh bool
		if e.Caller != nil {
			exe, unit, ssh = e.Caller.Exe, e.Caller.Unit, e.Caller.OverSSH()
			if exe == "" && e.Caller.Comm != "" {
				exe = "(" + e.Caller.Comm + ")"
			}
		}
		key := k{e.Profile, e.KeyHint, exe}
		i, ok := idx[key]
		if !ok {
			i = len(out)
			idx[key] = i
			out = append(out, Usage{Profile: e.Profile, KeyHint: e.KeyHint, Exe: exe})
		}
		u := &out[i]
		if e.Result == ResultOK {
			u.Count++
		} else {
			u.Denied++
		}
		if e.Time.After(u.Last) {
			u.Last = e.Time
		}
		if unit != "" && !slices.Contains(u.Units, unit) {
			u.Units = append(u.Units, unit)
		}
		if !slices.Contains(u.Doors, e.Door) {
			u.Doors = append(u.Doors, e.Door)
		}
		u.SSH = u.SSH || ssh
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Profile != b.Profile {
			return a.Profile < b.Profile
		}
		if a.KeyHint != b.KeyHint {
			return a.KeyHint < b.KeyHint
		}
		return a.Count > b.Count
	})
	return out
}
