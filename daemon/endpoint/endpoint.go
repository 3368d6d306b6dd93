// Package endpoint is the local Torale API endpoint (SPEC: "Local Torale
// endpoint"): on 127.0.0.1 only, it takes a request carrying a profile's
// local token, checks who sent it, takes the profile's key from the
// Store's one hand-out point (policy and trail, door "endpoint") and
// forwards the request to the profile's real API URL with the key in the
// token's place, streaming both ways. It never logs, stores or answers
// with a key or a token, and never forwards a request it refused.
package endpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/internal/peer"
	"github.com/torale-ai/torale-cred/internal/safetext"
)

// Options are what a Server runs with.
type Options struct {
	// Store is the one hand-out point and where the tokens are recorded.
	Store *credstore.Store
	// Logger receives one line per refusal and forwarding failure (never a
	// key or a token); nil logs nowhere.
	Logger *slog.Logger
	// UID is the only peer user id served on Linux (default: the
	// process's own).
	UID *uint32
	// Transport forwards the requests (default: a clone of
	// http.DefaultTransport, which trusts the system's roots and honours
	// SSL_CERT_FILE and the proxy variables).
	Transport http.RoundTripper
	// Session makes this a remote session's endpoint (torale-cred ssh):
	// only the session's tokens are taken, only from its ssh client, never
	// for key management, each use judged at door remote; nil: the local
	// endpoint, which refuses a request an ssh client forwards.
	Session Session
}

// Session is a remote session's side of its endpoint (daemon/remote).
type Session interface {
	// ProfileOf is the profile tok stands for in this session while it
	// lives ("", false otherwise).
	ProfileOf(tok string) (string, bool)
	// Admits: c, the connection's process, is the session's ssh client,
	// running with the session's arguments.
	Admits(c *peer.Caller) error
	// Use is the session as the hand-out point judges and records it.
	Use() *credstore.RemoteUse
	// RemotePort is the port the remote host reaches the endpoint by: the
	// only one a request's Host may name.
	RemotePort() int
}

// Server is the endpoint on one listener.
type Server struct {
	o     Options
	log   *slog.Logger
	uid   uint32
	hs    *http.Server
	proxy *httputil.ReverseProxy
	ids   peer.Identifier
	pids  pidFinder
	// addr is the listener's address (host:port), set by Serve: the only
	// Host a request may name, and the one URL never forwarded to.
	addr string
	port string
}

// Listen opens the endpoint's listener on 127.0.0.1:port (0: a free port,
// which the caller records).
func Listen(ctx context.Context, port int) (*net.TCPListener, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp4", net.JoinHostPort(credstore.EndpointHost, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("opening the local endpoint on %s port %d: %w", credstore.EndpointHost, port, err)
	}
	return l.(*net.TCPListener), nil
}

// New builds the endpoint's server.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 16
		o.Transport = t
	}
	s := &Server{o: o, log: o.Logger, uid: uint32(os.Getuid())}
	if o.UID != nil {
		s.uid = *o.UID
	}
	s.proxy = &httputil.ReverseProxy{
		Rewrite:   rewrite,
		Transport: o.Transport,
		// 0: an answer of unknown length (chunked, server-sent events)
		// streams as it comes, flushed at each read (net/http's own rule);
		// one with a Content-Length goes out in buffer-sized writes, not a
		// flush per read (-1 cost a write syscall per read: a third of the
		// daemon's time under load).
		FlushInterval: 0,
		BufferPool:    copyBuffers{},
		ErrorHandler:  s.forwardFailed,
		ErrorLog:      slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug),
	}
	s.hs = &http.Server{
		Handler:           http.HandlerFunc(s.serve),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ConnContext:       s.connContext,
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug),
	}
	return s
}

// Serve answers connections on l until Shutdown.
func (s *Server) Serve(l net.Listener) error {
	s.addr = l.Addr().String()
	_, s.port, _ = net.SplitHostPort(s.addr)
	err := s.hs.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting and lets requests in flight finish until ctx
// ends, then closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.hs.Shutdown(ctx)
	if err != nil {
		_ = s.hs.Close()
	}
	return err
}

type connKey struct{}

// conn is one connection's peer, learned at its first request and kept
// for the rest (a kept-alive connection stays the same process's).
type conn struct {
	local, remote *net.TCPAddr
	once          sync.Once
	caller        *peer.Caller
	err           error
}

func (s *Server) connContext(ctx context.Context, c net.Conn) context.Context {
	cn := &conn{}
	cn.local, _ = c.LocalAddr().(*net.TCPAddr)
	cn.remote, _ = c.RemoteAddr().(*net.TCPAddr)
	return context.WithValue(ctx, connKey{}, cn)
}

// errOtherUser is a peer of another user (Linux).
var errOtherUser = errors.New("the connection comes from another user")

// peerOf is the connection's caller: on Linux, the process holding its
// other end, which must be of the endpoint's user (fail closed when it
// cannot be told); elsewhere an unnamed caller, admitted by its token.
func (s *Server) peerOf(r *http.Request) (*peer.Caller, error) {
	cn, _ := r.Context().Value(connKey{}).(*conn)
	if cn == nil || cn.local == nil || cn.remote == nil {
		return nil, errors.New("not a TCP connection")
	}
	cn.once.Do(func() {
		if !peerSupported {
			cn.caller = &peer.Caller{UID: -1}
			return
		}
		uid, pid, err := s.pids.tcpPeer(cn.local, cn.remote)
		switch {
		case err != nil:
			cn.err = err
		case uid != s.uid:
			cn.err = fmt.Errorf("%w (uid %d)", errOtherUser, uid)
		default:
			cn.caller = s.ids.Identify(pid, uid)
		}
	})
	if cn.err == nil && peerSupported && !peer.StillRuns(cn.caller) {
		return nil, errors.New("the process that connected now runs another program")
	}
	return cn.caller, cn.err
}

// forwardKey carries a judged request's target and key to rewrite.
type forwardKey struct{}

type forward struct {
	target *url.URL
	key    string
}

// rewrite puts the key in the token's place and aims the request at the
// real API; the rest of the request (method, path, query, body, other
// headers) goes as it came. No X-Forwarded-* headers are added.
func rewrite(pr *httputil.ProxyRequest) {
	fw := pr.In.Context().Value(forwardKey{}).(*forward)
	pr.SetURL(fw.target)
	pr.Out.Header.Set("Authorization", "Bearer "+fw.key)
	pr.Out.Header.Del("Proxy-Authorization")
}

// serve is every request: refused (401, Torale's {"detail"} shape, nothing
// forwarded) unless every check passes, then forwarded.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if !s.ownHost(r.Host) {
		s.refuse(w, r, http.StatusUnauthorized, "torale-cred's local endpoint answers only requests for "+s.addr, "host", safetext.Text(r.Host, 80))
		return
	}
	caller, err := s.peerOf(r)
	if err != nil {
		s.refuse(w, r, http.StatusUnauthorized, "torale-cred's local endpoint serves only its own user's programs", "err", err.Error())
		return
	}
	sess := s.o.Session
	switch {
	case sess != nil:
		if err := sess.Admits(caller); err != nil {
			s.refuse(w, r, http.StatusUnauthorized, "this remote session's endpoint serves only its own ssh client", "err", err.Error(), "program", caller.Program())
			return
		}
	case caller.Forwarded:
		s.refuse(w, r, http.StatusUnauthorized, "torale-cred's local endpoint does not serve another host through an ssh forward; use a profile there with: torale-cred ssh HOST", "program", caller.Program())
		return
	}
	profile, why := s.profileOf(r)
	if why != "" {
		s.refuse(w, r, http.StatusUnauthorized, why, "program", caller.Program())
		return
	}
	route, err := routeOf(r, sess != nil)
	if err != nil {
		s.refuse(w, r, http.StatusUnauthorized, err.Error(), "program", caller.Program())
		return
	}
	ctx := credstore.WithRoute(credstore.WithDoor(peer.With(r.Context(), caller), credstore.DoorEndpoint), route)
	if sess != nil {
		ctx = credstore.WithRemote(credstore.WithDoor(ctx, credstore.DoorRemote), sess.Use())
	}
	res, err := s.o.Store.Stored(ctx, profile)
	switch {
	case errors.Is(err, storeerr.ErrKeychain):
		s.refuse(w, r, http.StatusServiceUnavailable, "torale-cred cannot read the key of profile "+profile+" now: "+err.Error(), "program", caller.Program())
		return
	case err != nil:
		s.refuse(w, r, http.StatusUnauthorized, err.Error(), "program", caller.Program())
		return
	}
	target, err := s.targetOf(res)
	if err != nil {
		s.refuse(w, r, http.StatusUnauthorized, err.Error(), "program", caller.Program())
		return
	}
	r = r.WithContext(context.WithValue(r.Context(), forwardKey{}, &forward{target: target, key: res.Key}))
	s.proxy.ServeHTTP(w, r)
}

// ownHost: the request names this endpoint (127.0.0.1 or localhost and
// its port), not another host (a web page's rebound name).
func (s *Server) ownHost(host string) bool {
	port := s.port
	if s.o.Session != nil {
		port = strconv.Itoa(s.o.Session.RemotePort())
	}
	h, p, err := net.SplitHostPort(host)
	return err == nil && p == port && (h == credstore.EndpointHost || strings.EqualFold(h, "localhost"))
}

// profileOf is the profile whose local token the request carries as its
// Bearer key, or why it has none (detail, in Torale's words first).
func (s *Server) profileOf(r *http.Request) (profile, detail string) {
	const invalid = "Invalid API key: torale-cred's local endpoint takes the local token config.json holds (torale-cred endpoint status)"
	auth := r.Header.Values("Authorization")
	if len(auth) != 1 {
		return "", invalid
	}
	scheme, tok, ok := strings.Cut(auth[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", invalid
	}
	tok = strings.TrimSpace(tok)
	if strings.HasPrefix(tok, "sk_") {
		return "", "Invalid API key: torale-cred's local endpoint takes a local token, never a Torale key; it adds the key itself"
	}
	if s.o.Session != nil {
		if p, ok := s.o.Session.ProfileOf(tok); ok {
			return p, ""
		}
		return "", "Invalid API key: this remote session's endpoint takes its own session token only, until the ssh session ends (torale-cred status lists live sessions)"
	}
	ep, err := s.o.Store.EndpointState()
	if err != nil {
		return "", "torale-cred cannot read its local tokens: " + err.Error()
	}
	p, ok := ep.ProfileOf(tok)
	if !ok {
		return "", invalid
	}
	return p, ""
}

// keyRoutes are the key management routes a local token may not use:
// creating or revoking a key is torale-cred rotate's alone.
const keyRoutes = "/auth/api-keys"

// routeOf is the request's route for the trail ("GET /auth/me"), refusing
// a path that is not plain (so the server cannot read it as another one)
// and key management: creating and revoking keys always, and for a remote
// session every key route, listing included.
func routeOf(r *http.Request, remote bool) (string, error) {
	p := r.URL.Path
	clean := path.Clean("/" + p)
	if p != clean && p != clean+"/" {
		return "", errors.New("torale-cred's local endpoint forwards only plain paths (no '.', '..' or '//')")
	}
	lower := strings.ToLower(clean)
	if lower == keyRoutes || strings.HasPrefix(lower, keyRoutes+"/") {
		if remote {
			return "", errors.New("a remote session does not reach key management (/auth/api-keys)")
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			return "", errors.New("torale-cred's local endpoint does not create or revoke API keys; use torale-cred rotate")
		}
	}
	route := r.Method + " " + clean
	if len(route) > 200 {
		route = route[:200]
	}
	return route, nil
}

// targetOf is where the request goes: the profile's real API URL, https,
// or plain http to a loopback URL the user named; never this endpoint.
func (s *Server) targetOf(res credstore.Resolution) (*url.URL, error) {
	u, err := url.Parse(res.URL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("profile %s's API URL is not a URL; fix it (torale-cred status)", res.Profile)
	}
	host := u.Hostname()
	loopback := strings.EqualFold(host, "localhost")
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		loopback = true
	}
	switch {
	case loopback && u.Port() == s.port:
		return nil, fmt.Errorf("profile %s's API URL is this local endpoint itself; set the real one: torale-cred login --api-url URL, or api_url in config.json", res.Profile)
	case u.Scheme == "https":
	case u.Scheme == "http" && loopback && res.URLSource != credstore.FromDefault:
	default:
		return nil, fmt.Errorf("torale-cred's local endpoint sends keys over https only (plain http only to a loopback URL you named); profile %s's API URL is %s://%s", res.Profile, u.Scheme, safetext.Text(u.Host, 80))
	}
	return u, nil
}

// forwardFailed answers a request the real API could not be reached for.
func (s *Server) forwardFailed(w http.ResponseWriter, r *http.Request, err error) {
	fw, _ := r.Context().Value(forwardKey{}).(*forward)
	host := ""
	if fw != nil {
		host = fw.target.Host
	}
	if errors.Is(err, context.Canceled) {
		return // the client left
	}
	s.log.Warn("local endpoint: the Torale API did not answer", "host", host, "route", r.Method+" "+r.URL.Path, "err", err)
	writeDetail(w, http.StatusBadGateway, "torale-cred's local endpoint could not reach the Torale API at "+host)
}

// refuse answers a request that goes no further, and logs why.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, status int, detail string, attrs ...any) {
	s.log.Warn("local endpoint refused a request", append([]any{"status", status, "route", r.Method + " " + safetext.Text(r.URL.Path, 120), "why", detail}, attrs...)...)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="torale-cred"`)
	}
	writeDetail(w, status, detail)
}

// writeDetail is Torale's error shape: {"detail": "..."}.
func writeDetail(w http.ResponseWriter, status int, detail string) {
	b, _ := json.Marshal(struct {
		Detail string `json:"detail"`
	}{detail})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// copyBuffers are ReverseProxy's copy buffers, reused across requests so a
// busy endpoint does not make 32 KiB of garbage per answer.
type copyBuffers struct{}

var copyBufferPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (copyBuffers) Get() []byte  { return *copyBufferPool.Get().(*[]byte) }
func (copyBuffers) Put(b []byte) { copyBufferPool.Put(&b) }
