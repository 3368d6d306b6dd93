// Package fakeapi is an in-process fake of the Torale API's auth endpoints
// (httptest) for tests: it serves the documented response shapes or the
// live server's, enforces the live one-active-key rule and the creation
// rate limit, and fails on demand. It is test scaffolding and must never be
// linked into a shipped binary or hold a real key.
package fakeapi

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Mode picks the response shapes and rules.
type Mode int

const (
	// Documented: flat create answer {id, key, key_prefix "sk_...last5",
	// name, created_at}, list entries with "state", revoke answers
	// {"message": …}, any number of active keys.
	Documented Mode = iota
	// Live: {"key", "key_info": {id, user_id, key_prefix key[:15]+"...",
	// name, created_at, last_used_at, is_active}}, revoke answers
	// {"status": "revoked"}, one active key per user (400 on a second).
	Live
)

func (m Mode) String() string {
	if m == Live {
		return "live"
	}
	return "documented"
}

// OneKeyDetail is the live server's refusal of a second active key.
const OneKeyDetail = "You already have an active API key. Revoke it before creating a new one."

// Default limits.
const (
	DefaultCreateLimit  = 3
	DefaultCreateWindow = time.Minute
)

// User is the single account the fake serves.
const (
	UserID    = "550e8400-e29b-41d4-a716-446655440000"
	UserEmail = "user@example.com"
)

// Record is the fake's view of one key (the key itself is kept only as a
// hash, like the real server).
type Record struct {
	ID         string
	Name       string
	Prefix     string // as the current mode shows it
	Hint       string // sk_... + last 5
	CreatedAt  time.Time
	LastUsedAt *time.Time
	Active     bool
	hash       [32]byte
	livePrefix string
}

// Fault is a failure to inject: after letting After matching requests
// through, the next Times requests matching Method and Path (exact, or a
// prefix when it ends in "*"; empty matches all) wait Delay, then hang up
// (Hangup) or answer Status with Detail; a Fault with only a Delay then
// gets the normal answer.
type Fault struct {
	Method     string
	Path       string
	Status     int
	Detail     string
	RetryAfter int // seconds, for a 429
	Delay      time.Duration
	Hangup     bool
	Times      int // 0 means once
	After      int // let this many matching requests through first
}

// Server is the fake API.
type Server struct {
	*httptest.Server

	mu        sync.Mutex
	mode      Mode
	now       func() time.Time
	keys      []*Record
	faults    []*Fault
	creates   []time.Time
	limit     int
	window    time.Duration
	requests  []string
	nextID    int
	closeOnce sync.Once
}

// New starts a fake in mode m, closed when t ends.
func New(t testing.TB, m Mode) *Server {
	t.Helper()
	s := Start(m)
	t.Cleanup(s.Close)
	return s
}

// Start starts a fake in mode m; the caller closes it.
func Start(m Mode) *Server {
	s := &Server{mode: m, now: time.Now, limit: DefaultCreateLimit, window: DefaultCreateWindow}
	s.Server = httptest.NewServer(s.handler())
	return s
}

// Close stops the server (idempotent).
func (s *Server) Close() { s.closeOnce.Do(s.Server.Close) }

// SetMode switches between the documented and the live shapes.
func (s *Server) SetMode(m Mode) { s.mu.Lock(); s.mode = m; s.mu.Unlock() }

// SetClock replaces the clock used for created_at and rate limiting.
func (s *Server) SetClock(now func() time.Time) { s.mu.Lock(); s.now = now; s.mu.Unlock() }

// SetCreateLimit sets the creation rate limit (n per window; n <= 0: none).
func (s *Server) SetCreateLimit(n int, window time.Duration) {
	s.mu.Lock()
	s.limit, s.window = n, window
	s.mu.Unlock()
}

// Inject queues a fault.
func (s *Server) Inject(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	s.faults = append(s.faults, &f)
	s.mu.Unlock()
}

// AddKey creates an active key as if made in the dashboard at createdAt
// and returns it with its id. Keys look like the mode's: 32 characters
// (documented) or 43 (live).
func (s *Server) AddKey(name string, createdAt time.Time) (key, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, key := s.newKeyLocked(name, createdAt)
	return key, r.ID
}

// Keys returns a snapshot of every key record, revoked ones included.
func (s *Server) Keys() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Record, 0, len(s.keys))
	for _, r := range s.keys {
		c := *r
		c.Prefix = s.prefixLocked(r)
		out = append(out, c)
	}
	return out
}

// Active reports whether key is a known, unrevoked key.
func (s *Server) Active(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.lookupLocked(key)
	return r != nil && r.Active
}

// Requests lists "METHOD /path" for every request served, in order.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// Count is how many requests were "METHOD /path" (path prefix with "*").
func (s *Server) Count(method, path string) int {
	n := 0
	for _, r := range s.Requests() {
		m, p, _ := strings.Cut(r, " ")
		if m == method && matchPath(path, p) {
			n++
		}
	}
	return n
}

func matchPath(pattern, path string) bool {
	if pattern == "" {
		return true
	}
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(path, p)
	}
	return pattern == path
}

func (s *Server) newKeyLocked(name string, createdAt time.Time) (*Record, string) {
	var key string
	precision := time.Second // the docs' timestamps: RFC 3339, whole seconds
	if s.mode == Live {
		precision = time.Microsecond // Python's isoformat
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		key = "sk_" + base64.RawURLEncoding.EncodeToString(b)
	} else {
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
		var sb strings.Builder
		for range 32 {
			n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
			sb.WriteByte(alphabet[n.Int64()])
		}
		key = "sk_" + sb.String()
	}
	s.nextID++
	r := &Record{
		ID:         fmt.Sprintf("660e8400-e29b-41d4-a716-%012d", s.nextID),
		Name:       name,
		Hint:       "sk_..." + key[len(key)-5:],
		CreatedAt:  createdAt.UTC().Truncate(precision),
		Active:     true,
		hash:       sha256.Sum256([]byte(key)),
		livePrefix: key[:15] + "...",
	}
	s.keys = append(s.keys, r)
	return r, key
}

func (s *Server) prefixLocked(r *Record) string {
	if s.mode == Live {
		return r.livePrefix
	}
	return r.Hint
}

func (s *Server) lookupLocked(key string) *Record {
	h := sha256.Sum256([]byte(key))
	for _, r := range s.keys {
		if r.hash == h {
			return r
		}
	}
	return nil
}

func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /auth/me", s.authed(s.me))
	mux.HandleFunc("GET /auth/api-keys", s.authed(s.list))
	mux.HandleFunc("POST /auth/api-keys", s.authed(s.create))
	mux.HandleFunc("DELETE /auth/api-keys/{id}", s.authed(s.revoke))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, r.Method+" "+r.URL.Path)
		f := s.takeFaultLocked(r)
		s.mu.Unlock()
		if f != nil {
			// Read the body first: only then does net/http notice a client
			// that gives up and hangs up, and end the delay early.
			body, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<16))
			r.Body = io.NopCloser(bytes.NewReader(body))
			if f.Delay > 0 {
				select {
				case <-time.After(f.Delay):
				case <-r.Context().Done():
					return
				}
			}
			if f.Hangup {
				if hj, ok := w.(http.Hijacker); ok {
					if c, _, err := hj.Hijack(); err == nil {
						if tc, ok := c.(*net.TCPConn); ok {
							_ = tc.SetLinger(0) // a reset, as a dropped connection looks
						}
						c.Close()
						return
					}
				}
			}
			if f.Status != 0 {
				if f.RetryAfter > 0 {
					w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
				}
				detail := f.Detail
				if detail == "" {
					detail = http.StatusText(f.Status)
				}
				writeJSON(w, f.Status, map[string]any{"detail": detail})
				return
			}
		}
		mux.ServeHTTP(w, r)
	})
}

func (s *Server) takeFaultLocked(r *http.Request) *Fault {
	for i, f := range s.faults {
		if (f.Method == "" || f.Method == r.Method) && matchPath(f.Path, r.URL.Path) {
			if f.After > 0 {
				f.After--
				return nil
			}
			f.Times--
			if f.Times <= 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
			return f
		}
	}
	return nil
}

type authedHandler func(w http.ResponseWriter, r *http.Request, caller *Record)

// authed checks the Bearer key as the server does: 401 "Authorization
// header missing" or "Invalid API key".
func (s *Server) authed(h authedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		key, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok || key == "" {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"detail": "Authorization header missing"})
			return
		}
		s.mu.Lock()
		rec := s.lookupLocked(key)
		if rec != nil && rec.Active {
			t := s.now().UTC()
			rec.LastUsedAt = &t
		}
		s.mu.Unlock()
		if rec == nil || !rec.Active {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"detail": "Invalid API key"})
			return
		}
		h(w, r, rec)
	}
}

func (s *Server) me(w http.ResponseWriter, _ *http.Request, _ *Record) {
	writeJSON(w, http.StatusOK, map[string]any{"id": UserID, "email": UserEmail, "state": "active",
		"created_at": "2024-01-15T10:30:00Z"})
}

func (s *Server) list(w http.ResponseWriter, _ *http.Request, _ *Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]map[string]any, 0, len(s.keys))
	for i := len(s.keys) - 1; i >= 0; i-- { // newest first, as the server orders
		r := s.keys[i]
		if s.mode == Live {
			out = append(out, s.liveInfoLocked(r))
			continue
		}
		state := "active"
		if !r.Active {
			state = "revoked"
		}
		out = append(out, map[string]any{"id": r.ID, "key_prefix": r.Hint, "name": r.Name,
			"created_at": r.CreatedAt.Format(time.RFC3339), "last_used_at": timeOrNil(r.LastUsedAt), "state": state})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) liveInfoLocked(r *Record) map[string]any {
	// Python's isoformat: microseconds and +00:00.
	return map[string]any{"id": r.ID, "user_id": UserID, "key_prefix": r.livePrefix, "name": r.Name,
		"created_at": r.CreatedAt.Format("2006-01-02T15:04:05.000000-07:00"), "last_used_at": timeOrNil(r.LastUsedAt),
		"is_active": r.Active}
}

func timeOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, _ *Record) {
	var body struct {
		Name *string `json:"name"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil || body.Name == nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"detail": []map[string]any{
			{"type": "missing", "loc": []string{"body", "name"}, "msg": "Field required"}}})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UTC()
	if s.limit > 0 {
		kept := s.creates[:0]
		for _, t := range s.creates {
			if now.Sub(t) < s.window {
				kept = append(kept, t)
			}
		}
		s.creates = kept
		if len(s.creates) >= s.limit {
			wait := int((s.window - now.Sub(s.creates[0]) + time.Second - 1) / time.Second)
			if wait < 1 {
				wait = 1
			}
			w.Header().Set("Retry-After", strconv.Itoa(wait))
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"detail": "Rate limit exceeded", "retry_after": wait})
			return
		}
	}
	if s.mode == Live {
		for _, k := range s.keys {
			if k.Active {
				writeJSON(w, http.StatusBadRequest, map[string]any{"detail": OneKeyDetail})
				return
			}
		}
	}
	s.creates = append(s.creates, now)
	rec, key := s.newKeyLocked(*body.Name, now)
	if s.mode == Live {
		writeJSON(w, http.StatusOK, map[string]any{"key": key, "key_info": s.liveInfoLocked(rec)})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": rec.ID, "key": key, "key_prefix": rec.Hint, "name": rec.Name,
		"created_at": rec.CreatedAt.Format(time.RFC3339)})
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request, _ *Record) {
	id := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.keys {
		if k.ID == id {
			k.Active = false
			if s.mode == Live {
				writeJSON(w, http.StatusOK, map[string]any{"status": "revoked"})
			} else {
				writeJSON(w, http.StatusOK, map[string]any{"message": "API key revoked successfully"})
			}
			return
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]any{"detail": "API key not found"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
