package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/torale-ai/torale-cred/internal/peer"
	"github.com/torale-ai/torale-cred/internal/safefile"
)

// Options tune a Trail; the zero value is usable.
type Options struct {
	// MaxBytes bounds the current file (DefaultMaxBytes when 0).
	MaxBytes int64
	// FlushEvery is how long a record may wait in memory (100 ms when 0):
	// what a crash can lose.
	FlushEvery time.Duration
	Logger     *slog.Logger
	// FirstUse, when set, is called (off the look-up's path) the first time
	// an executable receives a profile's key.
	FirstUse func(Event)
}

// queueLen bounds what waits for the writer; past it a record is dropped
// and counted rather than slowing a look-up.
const queueLen = 8192

// batchBytes: a batch this large is written at once.
const batchBytes = 64 << 10

// wakeAt: this many records waiting wake the writer before FlushEvery.
const wakeAt = 512

// Trail is the daemon's audit writer. Record appends to a slice under a
// mutex and wakes nobody (except once per batch), so a look-up pays a few
// hundred nanoseconds; one goroutine encodes and appends each batch. A
// write that fails is logged once and counted; look-ups never wait for the
// disk.
type Trail struct {
	dir  string
	o    Options
	log  *slog.Logger
	kick chan struct{} // a batch began, or is large: the writer should look
	stop chan struct{}
	done chan struct{}
	once sync.Once

	mu      sync.Mutex
	pending []Event

	written, dropped, failed atomic.Uint64

	// Owned by the writer goroutine.
	f       *os.File
	size    int64
	callers map[*peer.Caller][]byte
	seen    *Seen
	failing bool
	// seenFailing: the first-use set could not be kept (logged once).
	seenFailing bool
}

// Stats are the trail's counters since the daemon started.
type Stats struct {
	Written uint64 `json:"written"`
	Dropped uint64 `json:"dropped"` // the queue was full
	Failed  uint64 `json:"failed"`  // the disk refused them
}

// Open starts the trail in dir (the state directory). Nothing is opened
// until the first record, so a daemon that hands out nothing writes
// nothing.
func Open(dir string, o Options) *Trail {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.FlushEvery <= 0 {
		o.FlushEvery = 100 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	t := &Trail{dir: dir, o: o, log: o.Logger, kick: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}), callers: map[*peer.Caller][]byte{},
		seen: &Seen{Dir: dir, wait: writerLockWait}}
	go t.run()
	return t
}

// Record queues e; it never blocks.
func (t *Trail) Record(e Event) {
	t.mu.Lock()
	n := len(t.pending)
	if n >= queueLen {
		t.mu.Unlock()
		t.dropped.Add(1)
		return
	}
	t.pending = append(t.pending, e)
	t.mu.Unlock()
	if n == 0 || n+1 == wakeAt {
		select {
		case t.kick <- struct{}{}:
		default:
		}
	}
}

// Stats reads the counters.
func (t *Trail) Stats() Stats {
	return Stats{Written: t.written.Load(), Dropped: t.dropped.Load(), Failed: t.failed.Load()}
}

// Close writes everything queued and stops the writer; ctx bounds the wait.
func (t *Trail) Close(ctx context.Context) error {
	t.once.Do(func() { close(t.stop) })
	select {
	case <-t.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("flushing the audit trail: %w", ctx.Err())
	}
}

// take swaps the waiting records out, leaving spare for the next batch.
func (t *Trail) take(spare []Event) []Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	got := t.pending
	t.pending = spare[:0]
	return got
}

func (t *Trail) run() {
	defer close(t.done)
	defer func() {
		if t.f != nil {
			t.f.Close()
		}
	}()
	var (
		spare []Event
		out   []byte
		timer = time.NewTimer(time.Hour)
	)
	timer.Stop()
	flush := func() {
		got := t.take(spare)
		buf := got
		for len(buf) > 0 {
			out = out[:0]
			n := 0
			for n < len(buf) && len(out) < batchBytes {
				out = appendLine(out, &buf[n], t.callerJSON(buf[n].Caller))
				n++
			}
			t.write(out, n)
			t.firstUses(buf[:n])
			clear(buf[:n]) // drop the callers for the collector
			buf = buf[n:]
		}
		spare = got[:0]
	}
	for {
		select {
		case <-t.kick:
			// Let the batch fill for FlushEvery, unless it is already large.
			t.mu.Lock()
			large := len(t.pending) >= wakeAt
			t.mu.Unlock()
			if !large {
				timer.Reset(t.o.FlushEvery)
				select {
				case <-timer.C:
				case <-t.stop:
					timer.Stop()
					flush()
					return
				}
			}
			flush()
		case <-t.stop:
			flush()
			return
		}
	}
}

// callerJSON is c's encoding, made once per caller (a connection's).
func (t *Trail) callerJSON(c *peer.Caller) []byte {
	if cj, ok := t.callers[c]; ok {
		return cj
	}
	if len(t.callers) > 4096 {
		clear(t.callers)
	}
	cj := encodeCaller(c)
	t.callers[c] = cj
	return cj
}

// write appends one batch of n lines, rotating first when the file is full.
func (t *Trail) write(b []byte, n int) {
	err := t.ensureOpen()
	if err == nil && t.size >= t.o.MaxBytes {
		err = t.rotate()
	}
	kept := 0 // lines of b in the file all the same
	if err == nil {
		var w int
		w, err = t.f.Write(b)
		t.size += int64(w)
		if err != nil && w > 0 {
			// A short write (disk full) leaves a torn line: cut it off so
			// the file stays whole lines. The whole lines before it stay:
			// they are written, not lost.
			kept = bytes.Count(b[:w], []byte{'\n'})
			t.repairTail()
		}
	}
	if err != nil {
		t.written.Add(uint64(kept))
		t.failed.Add(uint64(n - kept))
		if !t.failing {
			t.failing = true
			t.log.Error("audit trail: cannot write; look-ups go on, and these records are lost", "path", t.path(), "err", err)
		}
		if t.f != nil {
			t.f.Close()
			t.f = nil
		}
		return
	}
	if t.failing {
		t.failing = false
		t.log.Info("audit trail: writing again", "path", t.path(), "lost", t.failed.Load())
	}
	t.written.Add(uint64(n))
}

func (t *Trail) path() string { return filepath.Join(t.dir, FileName) }

func (t *Trail) ensureOpen() error {
	if t.f != nil {
		return nil
	}
	f, size, err := openTrail(t.dir)
	if err != nil {
		return err
	}
	t.f, t.size = f, size
	return nil
}

// rotate makes the full file the ".1" file, under the lock the commands
// take too, unless another process already did.
func (t *Trail) rotate() error {
	unlock, err := lock(t.dir, writerLockWait)
	if err != nil {
		return err
	}
	defer unlock()
	if same(t.f, t.path()) {
		if err := os.Rename(t.path(), t.path()+".1"); err != nil {
			return fmt.Errorf("rotating the audit trail: %w", err)
		}
	}
	t.f.Close()
	t.f = nil
	return t.ensureOpen()
}

// repairTail cuts the file back to its last whole line.
func (t *Trail) repairTail() {
	if size, err := cutTornTail(t.f); err == nil {
		t.size = size
	}
}

// same reports whether f is still the file at path (not rotated away).
func same(f *os.File, path string) bool {
	a, err1 := f.Stat()
	b, err2 := os.Stat(path)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// openTrail opens dir's trail for appending (creating it 0600) through
// safefile.Open, which refuses a directory or file that fails the trust
// rules, a link, or anything but a regular file, and cuts a torn last line
// a crash left, so the file is whole lines.
func openTrail(dir string) (*os.File, int64, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, 0, fmt.Errorf("creating the state directory: %w", err)
	}
	f, fi, err := safefile.Open(filepath.Join(dir, FileName), safefile.Options{Flag: os.O_RDWR | os.O_APPEND | os.O_CREATE, Perm: 0o600})
	if err != nil {
		return nil, 0, fmt.Errorf("opening the audit trail: %w", err)
	}
	if fi.Mode().Perm() != 0o600 {
		if err := f.Chmod(0o600); err != nil {
			f.Close()
			return nil, 0, fmt.Errorf("opening the audit trail: %w", err)
		}
	}
	size, err := cutTornTail(f)
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, size, nil
}

// cutTornTail truncates f after its last newline when it does not end in
// one, and returns the size.
func cutTornTail(f *os.File) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := fi.Size()
	if size == 0 {
		return 0, nil
	}
	const chunk = 4096
	end := size
	var last [1]byte
	if _, err := f.ReadAt(last[:], end-1); err != nil {
		return 0, err
	}
	if last[0] == '\n' {
		return size, nil
	}
	buf := make([]byte, chunk)
	for end > 0 {
		start := max(end-chunk, 0)
		n, err := f.ReadAt(buf[:end-start], start)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		for i := n - 1; i >= 0; i-- {
			if buf[i] == '\n' {
				keep := start + int64(i) + 1
				return keep, f.Truncate(keep)
			}
		}
		end = start
	}
	return 0, f.Truncate(0)
}
