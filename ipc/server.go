package ipc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/internal/audit"
	"github.com/torale-ai/torale-cred/internal/peer"
	"github.com/torale-ai/torale-cred/internal/peercred"
)

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
	// UID is the only peer user id served (default: the process's own).
	UID *uint32
	// Watching is reported by /v1/health: the daemon moves plaintext keys
	// out of config.json.
	Watching bool
	// Audit reads the audit trail's counters for /v1/health (nil: none).
	Audit func() audit.Stats
	// ConfigPath and StateDir are the daemon's own files, reported by
	// /v1/health: a client whose own differ answers itself.
	ConfigPath, StateDir string
	// Stores reads the remote stores' states for /v1/health (nil: none).
	Stores func() map[string]credstore.StoreStatus
	// Sessions opens, lists and ends remote sessions (/v1/sessions); nil:
	// this server opens none.
	Sessions Sessions
}

// Sessions are the daemon's remote sessions (daemon/remote).
type Sessions interface {
	// Open judges (ctx carries the caller and door) and opens a session
	// whose ssh client will be process pid.
	Open(ctx context.Context, req SessionRequest, pid int) (SessionOpened, error)
	List() []Session
	// Revoke ends the session id, or every one when id is "", and says how
	// many ended.
	Revoke(id string) int
}

// Server is the socket API over any credstore.Backend: handler → Backend
// → store, nothing cached or converted on the way.
type Server struct {
	b     credstore.Backend
	o     Options
	log   *slog.Logger
	hs    *http.Server
	uid   uint32
	conns atomic.Int64
	// ids names each connection's peer, remembering parent chains.
	ids peer.Identifier
	// bufs holds the buffers request bodies are read into and answers
	// encoded in, cleared before reuse (an answer holds a key): a fresh
	// pair at every look-up was a third of the daemon's garbage.
	bufs sync.Pool
}

// NewServer builds the server for b.
func NewServer(b credstore.Backend, o Options) *Server {
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
	s := &Server{b: b, o: o, log: o.Logger, uid: uint32(os.Getuid())}
	if o.UID != nil {
		s.uid = *o.UID
	}
	s.hs = &http.Server{
		Handler:           s.routes(),
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

// connPeer is what connContext learned of a connection's peer, once: every
// request on a kept-alive connection reuses it. The peer is identified
// (its /proc files read) while the connection's first request is read and
// decoded, not before: reading a new process's /proc entries is the
// largest part of a look-up's time in the daemon, and a request waits for
// it only when it hands a key out (handOutContext).
type connPeer struct {
	ready  chan struct{} // closed once caller and ours are set
	caller *peer.Caller
	// ours: the peer runs one of torale-cred's own executables, the only
	// ones believed when they name a door.
	ours bool
}

// identified waits for the peer's identity (the process is blocked on
// this connection meanwhile, so its /proc entries are still its own).
func (cp *connPeer) identified() *connPeer {
	<-cp.ready
	return cp
}

// connContext checks the peer's user id before a byte is read and fails
// closed: a peer of another user, or one whose id cannot be learned, has
// its connection closed here, so net/http reads nothing and writes nothing.
// A peer let through is identified here, once per connection, for the
// audit trail and the policy.
func (s *Server) connContext(ctx context.Context, c net.Conn) context.Context {
	uid, pid, err := peercred.Of(c)
	switch {
	case err != nil:
		s.log.Warn("refused a connection: cannot learn the peer's user id", "err", err)
	case uid != s.uid:
		s.log.Warn("refused a connection from another user", "peer_uid", uid, "uid", s.uid)
	default:
		cp := &connPeer{ready: make(chan struct{})}
		go func() {
			defer close(cp.ready)
			cp.caller = s.ids.Identify(pid, uid)
			cp.ours = cp.caller.Ours()
		}()
		return context.WithValue(ctx, peerKey{}, cp)
	}
	_ = c.Close()
	return ctx
}

// errPeerChanged: the process that connected runs another program now.
var errPeerChanged = fmt.Errorf("%w: the process that connected now runs another program; connect again", credstore.ErrDenied)

// handOutContext is a request's context for the one hand-out point: its
// caller, the door a key goes through, and how to tell the client to wait
// while a policy asks the user. Nothing here exempts a request: a peer
// that is torale-cred's own program names its door, and the caller judged
// and recorded is the program behind it (peer.Behind), read from /proc. A
// request asking for the hint alone (HintHeader), and every HEAD, gets
// no key: the door is none.
func (s *Server) handOutContext(w http.ResponseWriter, r *http.Request) (context.Context, error) {
	ctx := r.Context()
	cp, _ := ctx.Value(peerKey{}).(*connPeer)
	if cp == nil {
		return ctx, errPeerChanged
	}
	cp = cp.identified()
	if !peer.StillRuns(cp.caller) {
		return ctx, errPeerChanged
	}
	caller, door := cp.caller, credstore.DoorSocket
	if cp.ours {
		if d := r.Header.Get(DoorHeader); credstore.CheckDoor(d) {
			door = d
		}
		caller = s.ids.Behind(caller, door)
	}
	write := r.Method == http.MethodPut || r.Method == http.MethodDelete
	if !write && (r.Method == http.MethodHead || r.Header.Get(DoorHeader) == credstore.HintOnly) {
		door = "" // a write is judged whatever it asks
	}
	ctx = credstore.WithDoor(peer.With(ctx, caller), door)
	return credstore.WithWaiting(ctx, func(d time.Duration) {
		rc := http.NewResponseController(w)
		_ = rc.SetWriteDeadline(time.Now().Add(d + 5*time.Second))
		_ = rc.SetReadDeadline(time.Time{})
		w.WriteHeader(http.StatusProcessing)
	}), nil
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

// errForwarded: the peer is an ssh client, so the request comes from
// another host through a forward of this socket (ssh -R), which is never
// how another host uses a profile (SPEC: "Remote sessions").
var errForwarded = fmt.Errorf("%w: this socket does not serve another host through an ssh forward; use a profile there with: torale-cred ssh HOST", credstore.ErrDenied)

// notForwarded refuses a request whose peer is an ssh client forwarding
// this socket: another host would reach the key, the listing and PUT.
func (s *Server) notForwarded(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if cp, _ := r.Context().Value(peerKey{}).(*connPeer); cp != nil && cp.identified().caller.Forwarded {
			s.log.Warn("refused a request forwarded from another host by ssh", "pid", cp.caller.PID, "exe", cp.caller.Exe)
			s.fail(w, errForwarded)
			return
		}
		h(w, r)
	}
}

// guard serves only requests on connections connContext let through.
func guard(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Context().Value(peerKey{}).(*connPeer); !ok {
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
		{"POST", "/v1/sessions", s.openSession},
		{"GET", "/v1/sessions", s.listSessions},
		{"DELETE", "/v1/sessions", s.revokeSessions},
	}
	mux := http.NewServeMux()
	allow := map[string][]string{}
	var paths []string
	for _, rt := range table {
		h := rt.h
		if rt.path != "/v1/health" {
			h = s.notForwarded(h)
		}
		mux.HandleFunc(rt.method+" "+rt.path, guard(h))
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
				fmt.Sprintf("%s takes %s, not %s", p, methods, sanitize(r.Method, 16)))
		}))
	}
	mux.HandleFunc("/", guard(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, CodeUnknownRoute, "no such endpoint; the API is /v1/health, /v1/resolve and /v1/credentials")
	}))
	return mux
}

var ctJSON = []string{"application/json"}

// errTooLarge is a body past MaxBodyBytes.
var errTooLarge = errors.New("request body too large")

// readBody reads the whole body, refusing more than MaxBodyBytes.
// readBody reads the request's body into a buffer of s.bufs; the caller
// gives it back with s.release once the body is decoded.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) (*bytes.Buffer, error) {
	if r.ContentLength > MaxBodyBytes {
		return nil, errTooLarge
	}
	b := s.buffer()
	_, err := b.ReadFrom(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		s.release(b)
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errTooLarge
		}
		return nil, err
	}
	return b, nil
}

func (s *Server) buffer() *bytes.Buffer {
	if b, ok := s.bufs.Get().(*bytes.Buffer); ok {
		return b
	}
	return new(bytes.Buffer)
}

// release wipes b, all of what it ever held, and keeps it for the next
// request unless a large body grew it.
func (s *Server) release(b *bytes.Buffer) {
	all := b.Bytes()
	clear(all[:cap(all)])
	b.Reset()
	if b.Cap() <= MaxBodyBytes {
		s.bufs.Put(b)
	}
}

// resolve is POST /v1/resolve: the caller's own flags and environment.
func (s *Server) resolve(w http.ResponseWriter, r *http.Request) {
	body, err := s.readBody(w, r)
	if err != nil {
		s.bodyError(w, err)
		return
	}
	var req credstore.Request
	err = decodeStrict(body.Bytes(), &req)
	s.release(body)
	if err != nil {
		s.fail(w, err)
		return
	}
	ctx, err := s.handOutContext(w, r)
	if err != nil {
		s.fail(w, err)
		return
	}
	res, err := s.b.Resolve(ctx, req)
	if err != nil {
		s.fail(w, err)
		return
	}
	s.writeJSON(w, http.StatusOK, res)
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	h := Health{Status: "ok", Version: s.o.Version, Keychain: "ok", Watching: s.o.Watching, PID: os.Getpid(),
		Config: s.o.ConfigPath, StateDir: s.o.StateDir}
	if s.o.Audit != nil {
		st := s.o.Audit()
		h.Audit = &st
	}
	if err := s.b.Health(r.Context()); err != nil {
		h.Keychain = keychain.State(err)
	}
	if s.o.Stores != nil {
		h.Stores = s.o.Stores()
	}
	s.writeJSON(w, http.StatusOK, h)
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	ps, err := s.b.List(r.Context())
	if err != nil {
		s.fail(w, err)
		return
	}
	if ps == nil {
		ps = []credstore.ProfileInfo{}
	}
	s.writeJSON(w, http.StatusOK, CredentialList{Profiles: ps})
}

func pathProfile(r *http.Request) (string, error) {
	p := r.PathValue("profile")
	return p, credstore.CheckProfile(p)
}

func (s *Server) stored(w http.ResponseWriter, r *http.Request) {
	p, err := pathProfile(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	ctx, err := s.handOutContext(w, r)
	if err != nil {
		s.fail(w, err)
		return
	}
	res, err := s.b.Stored(ctx, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	s.writeJSON(w, http.StatusOK, res)
}

func (s *Server) put(w http.ResponseWriter, r *http.Request) {
	p, err := pathProfile(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	body, err := s.readBody(w, r)
	if err != nil {
		s.bodyError(w, err)
		return
	}
	var pb putBody
	err = decodeStrict(body.Bytes(), &pb)
	s.release(body)
	switch {
	case err != nil:
	case pb.APIKey == "":
		err = fmt.Errorf("%w: the body needs \"api_key\"", credstore.ErrBadRequest)
	default:
		err = checkSource(pb.Source)
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	ctx, err := s.handOutContext(w, r)
	if err != nil {
		s.fail(w, err)
		return
	}
	info, err := s.b.Put(ctx, p, pb.APIKey, pb.PutOptions)
	if err != nil {
		s.fail(w, err)
		return
	}
	s.writeJSON(w, http.StatusOK, info)
}

// errNoSessions: this server opens no remote sessions.
var errNoSessions = errors.New("this daemon opens no remote sessions (it runs without them, or on a system where they are not supported)")

// openSession is POST /v1/sessions, for torale-cred ssh alone: its
// process becomes the ssh client the session belongs to, so the pid the
// daemon watches is the socket peer's own (SO_PEERCRED), never a number a
// client sends. The session is judged for the program behind it.
func (s *Server) openSession(w http.ResponseWriter, r *http.Request) {
	if s.o.Sessions == nil {
		writeError(w, http.StatusNotFound, CodeUnknownRoute, errNoSessions.Error())
		return
	}
	body, err := s.readBody(w, r)
	if err != nil {
		s.bodyError(w, err)
		return
	}
	var req SessionRequest
	err = decodeStrict(body.Bytes(), &req)
	s.release(body)
	if err != nil {
		s.fail(w, err)
		return
	}
	cp, _ := r.Context().Value(peerKey{}).(*connPeer)
	if cp == nil || !cp.identified().ours || !peer.StillRuns(cp.caller) {
		s.fail(w, fmt.Errorf("%w: remote sessions are opened by torale-cred ssh, which runs ssh itself", credstore.ErrDenied))
		return
	}
	ctx := credstore.WithDoor(peer.With(r.Context(), s.ids.Behind(cp.caller, credstore.DoorSSH)), credstore.DoorSSH)
	opened, err := s.o.Sessions.Open(ctx, req, cp.caller.PID)
	if err != nil {
		s.fail(w, err)
		return
	}
	s.writeJSON(w, http.StatusOK, opened)
}

// listSessions is GET /v1/sessions: the live ones, never a token.
func (s *Server) listSessions(w http.ResponseWriter, _ *http.Request) {
	list := SessionList{Sessions: []Session{}}
	if s.o.Sessions != nil {
		list.Sessions = append(list.Sessions, s.o.Sessions.List()...)
	}
	s.writeJSON(w, http.StatusOK, list)
}

// revokeSessions is DELETE /v1/sessions[?id=ID]: ends one session or all.
func (s *Server) revokeSessions(w http.ResponseWriter, r *http.Request) {
	n := 0
	if s.o.Sessions != nil {
		n = s.o.Sessions.Revoke(r.URL.Query().Get("id"))
	}
	s.writeJSON(w, http.StatusOK, SessionsRevoked{Revoked: n})
}

// checkSource: a PUT may say where its key came from, among SPEC's words.
func checkSource(src string) error {
	switch src {
	case "", credstore.SourceLogin, credstore.SourceConfig, credstore.SourceGit, credstore.SourceRotate:
		return nil
	}
	return fmt.Errorf("%w: \"source\" must be login, config, git or rotate", credstore.ErrBadRequest)
}

func (s *Server) del(w http.ResponseWriter, r *http.Request) {
	p, err := pathProfile(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	ctx, err := s.handOutContext(w, r)
	if err != nil {
		s.fail(w, err)
		return
	}
	if err := s.b.Delete(ctx, p); err != nil {
		s.fail(w, err)
		return
	}
	s.writeJSON(w, http.StatusOK, Deleted{Profile: p, Deleted: true})
}

func (s *Server) bodyError(w http.ResponseWriter, err error) {
	if errors.Is(err, errTooLarge) {
		writeError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("the request body is larger than %d bytes", MaxBodyBytes))
		return
	}
	writeError(w, http.StatusBadRequest, CodeBadRequest, "the request body could not be read")
}

// fail answers err with its status and code, decided in one place; the
// message is the error's own sentence (credstore words "no key" and every
// other failure without quoting input).
func (s *Server) fail(w http.ResponseWriter, err error) {
	status, code := http.StatusInternalServerError, CodeInternal
	msg := err.Error()
	switch {
	case errors.Is(err, credstore.ErrBadProfile):
		status, code = http.StatusBadRequest, CodeBadProfile
	case errors.Is(err, apikey.ErrBadKey):
		status, code = http.StatusBadRequest, CodeBadKey
	case errors.Is(err, credstore.ErrBadURL):
		status, code = http.StatusBadRequest, CodeBadURL
	case errors.Is(err, credstore.ErrBadRequest):
		status, code = http.StatusBadRequest, CodeBadRequest
		msg = strings.TrimPrefix(msg, credstore.ErrBadRequest.Error()+": ")
	case errors.Is(err, storeerr.ErrKeychain):
		status, code = http.StatusServiceUnavailable, CodeKeychain
	case errors.Is(err, credstore.ErrDenied):
		status, code = http.StatusForbidden, CodeDenied
	case errors.Is(err, storeerr.ErrNotFound):
		status, code = http.StatusNotFound, CodeNotFound
	default:
		s.log.Error("request failed", "err", err)
	}
	writeError(w, status, code, msg)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header()["Content-Type"] = ctJSON
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeJSON answers v, encoded in a buffer of s.bufs.
func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	b := s.buffer()
	encodeJSON(b, v)
	writeRaw(w, status, b.Bytes())
	s.release(b)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var b bytes.Buffer
	encodeJSON(&b, ErrorBody{Error: code, Message: msg})
	writeRaw(w, status, b.Bytes())
}

// encodeJSON encodes v, one of the package's own types or credstore's,
// which cannot fail to encode, with a newline after it.
func encodeJSON(b *bytes.Buffer, v any) {
	if err := json.NewEncoder(b).Encode(v); err != nil {
		panic(fmt.Sprintf("ipc: encoding %T: %v", v, err))
	}
}

// sanitize keeps a caller's word printable and short for a message.
func sanitize(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}
