package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/internal/peer"
)

var caller = &peer.Caller{PID: 7, UID: 1000, Exe: "/usr/bin/curl", Comm: "curl", Unit: "app.service"}

func event(i int) Event {
	return Event{Time: time.Date(2026, 12, 1, 0, 0, i, 0, time.UTC), Profile: "default", KeyHint: "sk_...abcde",
		Door: "socket", Result: ResultOK, Caller: caller}
}

func TestLineIsOneJSONObject(t *testing.T) {
	odd := &peer.Caller{PID: 1, Exe: "/tmp/a\"b\\c\nd\x00e\u2028é", Comm: "x\ty"}
	e := Event{Time: time.Now(), Profile: "p", KeyHint: "sk_...\x01\"", Door: "socket", Result: ResultOK, Caller: odd}
	line := appendLine(nil, &e, encodeCaller(odd))
	if bytes.Count(line, []byte("\n")) != 1 || line[len(line)-1] != '\n' {
		t.Fatalf("not one line: %q", line)
	}
	got, err := ParseLine(line)
	if err != nil {
		t.Fatal(err)
	}
	if *got.Caller != *odd || got.KeyHint != e.KeyHint || !got.Time.Equal(e.Time) {
		t.Fatalf("round trip: %+v, want %+v", got, e)
	}
}

func FuzzLine(f *testing.F) {
	f.Add("default", "sk_...abcde", "/usr/bin/curl", "curl", "a.service")
	f.Add("\xff", "\"", "\n", "\x00", "\\")
	f.Fuzz(func(t *testing.T, profile, hint, exe, comm, unit string) {
		c := &peer.Caller{PID: 1, Exe: exe, Comm: comm, Unit: unit}
		e := Event{Time: time.Unix(1, 0), Profile: profile, KeyHint: hint, Door: "git", Result: ResultOK, Caller: c}
		line := appendLine(nil, &e, encodeCaller(c))
		if bytes.IndexByte(line, '\n') != len(line)-1 || !json.Valid(line) {
			t.Fatalf("not one valid JSON line: %q", line)
		}
	})
}

func FuzzParseLine(f *testing.F) {
	f.Add([]byte(`{"time":"2026-12-01T00:00:00Z","profile":"a","key_hint":"sk_...x","door":"socket","result":"ok","caller":{"pid":1}}`))
	f.Add([]byte(`{"time":"2026-12-01T00:00:00Z","prof`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseLine(b)
		if err == nil && (e.Profile == "" || e.Door == "" || e.Time.IsZero()) {
			t.Fatalf("accepted a record with a field missing: %+v", e)
		}
	})
}

func TestTrailWritesOnClose(t *testing.T) {
	dir := t.TempDir()
	tr := Open(dir, Options{FlushEvery: time.Hour})
	for i := range 1000 {
		tr.Record(event(i))
	}
	if err := tr.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	evs, bad, err := Read(dir, Filter{})
	if err != nil || bad != 0 || len(evs) != 1000 {
		t.Fatalf("read %d events, %d bad, %v; want 1000", len(evs), bad, err)
	}
	if st := tr.Stats(); st.Written != 1000 || st.Dropped != 0 || st.Failed != 0 {
		t.Fatalf("stats %+v", st)
	}
	fi, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("trail mode %v, %v; want 0600", fi.Mode(), err)
	}
}

// patience bounds the waits of these tests: long enough for any loaded
// machine, it only turns a hang into a failure.
const patience = 30 * time.Second

// A record waits at most FlushEvery: what a crash can lose. It reaches the
// disk with nothing else happening (no Close, no more records).
func TestTrailFlushesSoon(t *testing.T) {
	dir := t.TempDir()
	tr := Open(dir, Options{FlushEvery: 20 * time.Millisecond})
	defer tr.Close(context.Background())
	tr.Record(event(1))
	deadline := time.Now().Add(patience)
	for time.Now().Before(deadline) {
		if evs, _, _ := Read(dir, Filter{}); len(evs) == 1 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("the record was not on disk within %s", patience)
}

// Record never waits for the writer: with the writer stuck (here in the
// first-use alert, as it could be in a write to a hung disk), records
// queue up to queueLen and the rest are dropped and counted, and Record
// keeps returning.
func TestRecordNeverWaitsForTheWriter(t *testing.T) {
	stuck, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	tr := Open(t.TempDir(), Options{FlushEvery: time.Millisecond, FirstUse: func(Event) {
		once.Do(func() { close(stuck) })
		<-release
	}})
	defer func() {
		close(release)
		if err := tr.Close(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	tr.Record(event(0))
	select {
	case <-stuck:
	case <-time.After(patience):
		t.Fatal("harness: the first use never reached the alert")
	}
	const n = 50000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i <= n; i++ {
			tr.Record(event(i))
		}
	}()
	select {
	case <-done:
	case <-time.After(patience):
		t.Fatal("Record waited for the stuck writer")
	}
	if st := tr.Stats(); st.Dropped != n-queueLen {
		t.Fatalf("stats %+v with the writer stuck: want %d queued, %d dropped", st, queueLen, n-queueLen)
	}
}

// The trail is bounded: past MaxBytes the file becomes ".1", the newest kept.
func TestTrailRotates(t *testing.T) {
	dir := t.TempDir()
	tr := Open(dir, Options{MaxBytes: 4096, FlushEvery: time.Millisecond})
	for i := range 300 {
		tr.Record(event(i))
		if i%10 == 0 {
			time.Sleep(2 * time.Millisecond)
		}
	}
	if err := tr.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, n := range []string{FileName, FileName + ".1"} {
		fi, err := os.Stat(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		total += fi.Size()
	}
	if total > 2*4096+batchBytes {
		t.Fatalf("trail holds %d bytes, want it bounded near 2 x 4096", total)
	}
	evs, bad, _ := Read(dir, Filter{})
	if bad != 0 || len(evs) == 0 || evs[len(evs)-1].Time != event(299).Time {
		t.Fatalf("read %d events (%d bad); the newest must be kept", len(evs), bad)
	}
}

// A torn last line (a crash mid-write) is cut at the next open, so the
// file is whole lines again; the reader skips it meanwhile.
func TestTornTailIsCut(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	whole := appendLine(nil, &Event{Time: time.Unix(5, 0), Profile: "a", KeyHint: "h", Door: "socket", Result: ResultOK, Caller: caller}, encodeCaller(caller))
	if err := os.WriteFile(path, append(bytes.Clone(whole), whole[:20]...), 0o600); err != nil {
		t.Fatal(err)
	}
	if evs, bad, _ := Read(dir, Filter{}); len(evs) != 1 || bad != 1 {
		t.Fatalf("read %d events, %d bad; want 1 and 1", len(evs), bad)
	}
	if _, err := Append(dir, 0, event(1)); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if evs, bad, _ := Read(dir, Filter{}); len(evs) != 2 || bad != 0 || !bytes.HasPrefix(b, whole) {
		t.Fatalf("after append: %d events, %d bad; file %q", len(evs), bad, b)
	}
}

// A disk that refuses writes fails no look-up: Record never blocks, the
// loss is counted, and the failure is logged once.
func TestTrailFailureIsCounted(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, FileName), 0o700); err != nil { // not a file: every open fails
		t.Fatal(err)
	}
	var log bytes.Buffer
	tr := Open(dir, Options{FlushEvery: time.Millisecond, Logger: newTestLogger(&log)})
	// (That Record does not wait for the disk is
	// TestRecordNeverWaitsForTheWriter's, without timing it.)
	for i := range 50000 {
		tr.Record(event(i))
	}
	if err := tr.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := tr.Stats()
	if st.Written != 0 || st.Failed+st.Dropped != 50000 || st.Failed == 0 {
		t.Fatalf("stats %+v, want every record failed or dropped", st)
	}
	if n := strings.Count(log.String(), "cannot write"); n != 1 {
		t.Fatalf("logged the failure %d times, want once:\n%s", n, log.String())
	}
}

func TestTrailRefusesUntrustedDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := Append(dir, 0, event(1)); err == nil || !strings.Contains(err.Error(), "writable by others") {
		t.Fatalf("Append in a 0777 directory: %v", err)
	}
}

func TestSeenFirstUse(t *testing.T) {
	dir := t.TempDir()
	daemon := &Seen{Dir: dir}
	if n, err := daemon.FirstUse("default", "/usr/bin/curl"); !n || err != nil {
		t.Fatalf("first: %v %v", n, err)
	}
	if n, _ := daemon.FirstUse("default", "/usr/bin/curl"); n {
		t.Fatal("second use reported as first")
	}
	if n, _ := daemon.FirstUse("work", "/usr/bin/curl"); !n {
		t.Fatal("another profile's first use not reported")
	}
	// A command adds one; the daemon, which read the file before, does not
	// report it again.
	if n, _ := (&Seen{Dir: dir}).FirstUse("default", "/usr/bin/git"); !n {
		t.Fatal("command's first use not reported")
	}
	if n, _ := daemon.FirstUse("default", "/usr/bin/git"); n {
		t.Fatal("first use reported twice across processes")
	}
	if n, _ := daemon.FirstUse("default", ""); n {
		t.Fatal("a caller with no executable reported as new")
	}
}

func TestSummarize(t *testing.T) {
	git := &peer.Caller{PID: 9, Exe: "/usr/bin/git", Unit: "backup.service"}
	evs := []Event{event(1), event(2), {Time: time.Unix(9, 0), Profile: "default", KeyHint: "sk_...abcde", Door: "git", Result: ResultDenied, Caller: git},
		{Time: time.Unix(10, 0), Profile: "default", KeyHint: "sk_...abcde", Door: "git", Result: ResultOK, Caller: git}}
	u := Summarize(evs)
	if len(u) != 2 || u[0].Exe != "/usr/bin/curl" || u[0].Count != 2 || u[1].Denied != 1 || u[1].Units[0] != "backup.service" {
		t.Fatalf("Summarize = %+v", u)
	}
}
