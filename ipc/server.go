package ipc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
)

// Answer is a Backend's resolution with the stored key's rotation status
// (nil when the profile has no metadata).
type Answer struct {
	Resolution credstore.Resolution
	Rotation   *credstore.Rotation
}

// ProfileMeta is one profile's metadata with its rotation status.
type ProfileMeta struct {
	Name     string
	Profile  credstore.Profile
	Rotation credstore.Rotation
}

// Backend is everything the server serves; the daemon supplies it. Errors
// are told apart with errors.Is: credstore.ErrNotFound (404),
// credstore.ErrKeychain (503), credstore.ErrBadKey / ErrBadProfile (400).
type Backend interface {
	// Resolve applies the resolver to the caller's request.
	Resolve(ctx context.Context, req credstore.Request) (Answer, error)
	// Stored is the keychain tier alone for profile.
	Stored(ctx context.Context, profile string) (Answer, error)
	// List is every profile's metadata, never a key.
	List(ctx context.Context) ([]ProfileMeta, error)
	// Put stores key for profile and returns the profile's new metadata.
	Put(ctx context.Context, profile, key string, o credstore.PutOptions) (ProfileMeta, error)
	// Delete removes profile's key and metadata.
	Delete(ctx context.Context, profile string) error
	// Health is nil when the keychain answers, else why it does not.
	Health(ctx context.Context) error
}

// Generationer is implemented by a Backend that can say when its answers
// may have changed: the server then keeps encoded /v1/resolve answers and
// serves a repeated request without decoding, resolving or encoding again.
// Generation must change whenever any answer could.
type Generationer interface {
	Generation() uint64
}

// Options tune a Server; the zero value is usable.
type Options struct {
	Version string
	Logger  *slog.Logger
	// MaxConns caps open connections (default 256); past it a new
	// connection is closed at once.
	MaxConns int
	// Timeouts (defaults: header 5 s, request 10 s, write 15 s, idle 2 min).
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	// AnswerTTL bounds how long an encoded answer is reused even when the
	// Backend's generation has not moved (default 10 s), since rotation
	// status moves with the clock.
	AnswerTTL time.Duration
	// UID is the only peer user id served (default: the process's own).
	UID *uint32
}

// Server is the socket API over a Backend.
type Server struct {
	b     Backend
	gen   Generationer
	o     Options
	log   *slog.Logger
	mux   *http.ServeMux
	hs    *http.Server
	uid   uint32
	conns atomic.Int64

	answers answerCache
}

// NewServer builds the server for b.
func NewServer(b Backend, o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 256
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.ReadHeaderTimeout, 5*time.Second)
	def(&o.ReadTimeout, 10*time.Second)
	def(&o.WriteTimeout, 15*time.Second)
	def(&o.IdleTimeout, 2*time.Minute)
	def(&o.AnswerTTL, 10*time.Second)
	s := &Server{b: b, o: o, log: o.Logger, uid: uint32(os.Getuid())}
	if o.UID != nil {
		s.uid = *o.UID
	}
	s.gen, _ = b.(Generationer)
	s.answers.ttl = o.AnswerTTL
	s.mux = s.routes()
	s.hs = &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		ReadTimeout:       o.ReadTimeout,
		WriteTimeout:      o.WriteTimeout,
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    16 << 10,
		ConnContext:       s.connContext,
		ConnState:         s.connState,
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug),
	}
	return s
}

// Handler is the route table, without the peer check (which needs the
// connection): for tests with httptest.
func (s *Server) Handler() http.Handler { return s.mux }

// Serve answers connections on l until Shutdown.
func (s *Server) Serve(l net.Listener) error {
	err := s.hs.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, lets requests in flight finish until ctx ends,
// then closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.hs.Shutdown(ctx)
	if err != nil {
		_ = s.hs.Close()
	}
	return err
}

// Conns is the number of open connections.
func (s *Server) Conns() int64 { return s.conns.Load() }

type peerKey struct{}

// connContext checks the peer's user id before a byte is read and fails
// closed: a peer of another user, or one whose id cannot be learned, has
// its connection closed here, so net/http reads nothing and writes nothing.
func (s *Server) connContext(ctx context.Context, c net.Conn) context.Context {
	uid, err := PeerUID(c)
	switch {
	case err != nil:
		s.log.Warn("refused a connection: cannot learn the peer's user id", "err", err)
	case uid != s.uid:
		s.log.Warn("refused a connection from another user", "peer_uid", uid, "uid", s.uid)
	default:
		return context.WithValue(ctx, peerKey{}, uid)
	}
	_ = c.Close()
	return ctx
}

func (s *Server) connState(c net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		if n := s.conns.Add(1); n > int64(s.o.MaxConns) {
			s.log.Warn("refused a connection: too many open", "max", s.o.MaxConns)
			_ = c.Close()
		}
	case http.StateClosed, http.StateHijacked:
		s.conns.Add(-1)
	}
}

// guard serves only requests on connections connContext let through.
func guard(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Context().Value(peerKey{}).(uint32); !ok {
			writeError(w, http.StatusForbidden, CodeForbidden, "this socket serves its own user only")
			return
		}
		h(w, r)
	}
}

type route struct {
	method, path string
	h            http.HandlerFunc
}

// routes is the API: every path, its methods, and JSON 404/405 for the rest.
func (s *Server) routes() *http.ServeMux {
	table := []route{
		{"GET", "/v1/health", s.health},
		{"POST", "/v1/resolve", s.resolve},
		{"GET", "/v1/credentials", s.list},
		{"GET", "/v1/credentials/{profile}", s.stored},
		{"PUT", "/v1/credentials/{profile}", s.put},
		{"DELETE", "/v1/credentials/{profile}", s.del},
	}
	mux := http.NewServeMux()
	allow := map[string][]string{}
	var paths []string
	for _, rt := range table {
		mux.HandleFunc(rt.method+" "+rt.path, guard(rt.h))
		if _, ok := allow[rt.path]; !ok {
			paths = append(paths, rt.path)
		}
		allow[rt.path] = append(allow[rt.path], rt.method)
		if rt.method == "GET" {
			allow[rt.path] = append(allow[rt.path], "HEAD")
		}
	}
	for _, p := range paths {
		methods := strings.Join(allow[p], ", ")
		mux.HandleFunc(p, guard(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", methods)
			writeError(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed,
				fmt.Sprintf("%s takes %s, not %s", p, methods, sanitize(r.Method)))
		}))
	}
	mux.HandleFunc("/", guard(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, CodeUnknownRoute, "no such endpoint; the API is /v1/health, /v1/resolve and /v1/credentials")
	}))
	return mux
}

var (
	ctJSON = []string{"application/json"}
	// bodyPool recycles request-body buffers across look-ups.
	bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}
)

// errTooLarge is a body past MaxBodyBytes.
var errTooLarge = errors.New("request body too large")

// readBody reads the whole body into buf, refusing more than MaxBodyBytes
// without allocating a limiter.
func readBody(r *http.Request, buf []byte) ([]byte, error) {
	if r.ContentLength > MaxBodyBytes {
		return buf, errTooLarge
	}
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, 512)
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > MaxBodyBytes {
			return buf, errTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// resolve is the hot path: a repeated request is answered from the
// encoded-answer cache without decoding, resolving or encoding.
func (s *Server) resolve(w http.ResponseWriter, r *http.Request) {
	bp := bodyPool.Get().(*[]byte)
	body, err := readBody(r, (*bp)[:0])
	defer func() {
		if cap(body) <= 64<<10 {
			*bp = body[:0]
			bodyPool.Put(bp)
		}
	}()
	if err != nil {
		s.bodyError(w, err)
		return
	}
	var gen uint64
	now := time.Now()
	if s.gen != nil {
		gen = s.gen.Generation()
		if a, ok := s.answers.get(body, gen, now); ok {
			writeRaw(w, a.status, a.body)
			return
		}
	}
	req, err := DecodeResolveRequest(body)
	if err != nil {
		s.fail(w, "", err)
		return
	}
	a, err := s.b.Resolve(r.Context(), req)
	var status int
	var out []byte
	if err != nil {
		status, out = s.errorBytes(req.Profile, err)
	} else {
		status = http.StatusOK
		out = mustJSON(answerOf(a.Resolution, a.Rotation))
	}
	if s.gen != nil && (status == http.StatusOK || status == http.StatusNotFound) {
		s.answers.put(body, gen, now, cachedAnswer{status, out})
	}
	writeRaw(w, status, out)
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	h := Health{Status: "ok", Version: s.o.Version, Keychain: "ok"}
	if err := s.b.Health(r.Context()); err != nil {
		h.Keychain = "unavailable: " + err.Error()
	}
	writeJSON(w, http.StatusOK, h)
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	ps, err := s.b.List(r.Context())
	if err != nil {
		s.fail(w, "", err)
		return
	}
	out := CredentialList{Profiles: make([]ProfileInfo, 0, len(ps))}
	for _, p := range ps {
		out.Profiles = append(out.Profiles, infoOf(p))
	}
	writeJSON(w, http.StatusOK, out)
}

func infoOf(p ProfileMeta) ProfileInfo {
	rot := Rotation{AgeDays: p.Rotation.AgeDays, DueAt: p.Rotation.DueAt, Due: p.Rotation.Due}
	return ProfileInfo{Name: p.Name, Profile: p.Profile, Rotation: &rot}
}

func pathProfile(r *http.Request) (string, error) {
	p := r.PathValue("profile")
	return p, credstore.CheckProfile(p)
}

func (s *Server) stored(w http.ResponseWriter, r *http.Request) {
	p, err := pathProfile(r)
	if err != nil {
		s.fail(w, "", err)
		return
	}
	a, err := s.b.Stored(r.Context(), p)
	if err != nil {
		s.fail(w, p, err)
		return
	}
	writeJSON(w, http.StatusOK, answerOf(a.Resolution, a.Rotation))
}

func (s *Server) put(w http.ResponseWriter, r *http.Request) {
	p, err := pathProfile(r)
	if err != nil {
		s.fail(w, "", err)
		return
	}
	body, err := readBody(r, nil)
	if err != nil {
		s.bodyError(w, err)
		return
	}
	opts, key, err := DecodePutRequest(body)
	clear(body)
	if err != nil {
		s.fail(w, p, err)
		return
	}
	meta, err := s.b.Put(r.Context(), p, key, opts)
	if err != nil {
		s.fail(w, p, err)
		return
	}
	writeJSON(w, http.StatusOK, infoOf(meta))
}

func (s *Server) del(w http.ResponseWriter, r *http.Request) {
	p, err := pathProfile(r)
	if err != nil {
		s.fail(w, "", err)
		return
	}
	if err := s.b.Delete(r.Context(), p); err != nil {
		s.fail(w, p, err)
		return
	}
	writeJSON(w, http.StatusOK, Deleted{Profile: p, Deleted: true})
}

func (s *Server) bodyError(w http.ResponseWriter, err error) {
	if errors.Is(err, errTooLarge) {
		writeError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("the request body is larger than %d bytes", MaxBodyBytes))
		return
	}
	writeError(w, http.StatusBadRequest, CodeBadRequest, "the request body could not be read")
}

func (s *Server) fail(w http.ResponseWriter, profile string, err error) {
	status, b := s.errorBytes(profile, err)
	writeRaw(w, status, b)
}

// errorBytes maps an error onto its status and encoded body, in one place.
func (s *Server) errorBytes(profile string, err error) (int, []byte) {
	status, code, msg := http.StatusInternalServerError, CodeInternal, err.Error()
	switch {
	case errors.Is(err, credstore.ErrBadProfile):
		status, code = http.StatusBadRequest, CodeBadProfile
	case errors.Is(err, credstore.ErrBadKey):
		status, code = http.StatusBadRequest, CodeBadKey
	case errors.Is(err, errBadRequest):
		status, code = http.StatusBadRequest, CodeBadRequest
		msg = strings.TrimPrefix(msg, errBadRequest.Error()+": ")
	case errors.Is(err, credstore.ErrKeychain):
		status, code = http.StatusServiceUnavailable, CodeKeychain
	case errors.Is(err, credstore.ErrNotFound):
		status, code = http.StatusNotFound, CodeNotFound
		if profile != "" {
			msg = NotFoundMessage(profile)
		}
	default:
		s.log.Error("request failed", "err", err)
	}
	return status, mustJSON(ErrorBody{Error: code, Message: msg})
}

// NotFoundMessage is the sentence for "no key", worded as the CLI words it.
func NotFoundMessage(profile string) string {
	return fmt.Sprintf("No API key configured for profile %q; run: torale-cred login --profile %s", profile, profile)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header()["Content-Type"] = ctJSON
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) { writeRaw(w, status, mustJSON(v)) }

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeRaw(w, status, mustJSON(ErrorBody{Error: code, Message: msg}))
}

// mustJSON encodes the package's own types, which cannot fail to encode.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("ipc: encoding %T: %v", v, err))
	}
	return append(b, '\n')
}

// sanitize keeps a method name printable and short for a message.
func sanitize(s string) string {
	if len(s) > 16 {
		s = s[:16]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}

// answerCache keeps encoded /v1/resolve answers for the Backend's current
// generation, keyed by the exact request body.
type answerCache struct {
	ttl  time.Duration
	mu   sync.RWMutex
	gen  uint64
	born time.Time
	m    map[string]cachedAnswer
}

type cachedAnswer struct {
	status int
	body   []byte
}

const (
	maxCachedAnswers = 1024
	maxCachedBody    = 1024
)

func (c *answerCache) get(body []byte, gen uint64, now time.Time) (cachedAnswer, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.m == nil || c.gen != gen || now.Sub(c.born) > c.ttl {
		return cachedAnswer{}, false
	}
	a, ok := c.m[string(body)]
	return a, ok
}

func (c *answerCache) put(body []byte, gen uint64, now time.Time, a cachedAnswer) {
	if len(body) > maxCachedBody {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || c.gen != gen || now.Sub(c.born) > c.ttl || len(c.m) >= maxCachedAnswers {
		if c.m != nil && c.gen > gen {
			return // an answer computed before the latest change
		}
		c.m, c.gen, c.born = make(map[string]cachedAnswer, 16), gen, now
	}
	c.m[string(body)] = a
}
