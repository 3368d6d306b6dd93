// Package remote owns the daemon's remote sessions (SPEC: "Remote
// sessions"): torale-cred ssh asks for one, becomes the ssh client, and the
// session's own endpoint, on a loopback port of its own, serves that ssh
// client's forward alone, with tokens that stand for the chosen profiles
// until the ssh client exits or the TTL passes, whichever comes first. It
// never hands a session a key or a profile's local token, and never
// believes anything the remote host says about where it is.
package remote

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/daemon/endpoint"
	"github.com/torale-ai/torale-cred/internal/peer"
	"github.com/torale-ai/torale-cred/ipc"
)

// TokenPrefix marks a session token: never a Torale key (sk_) nor a local
// token (tcl_), worthless once its session ends.
const TokenPrefix = "tcr_"

// Bounds of a session's TTL.
const (
	DefaultTTL = 12 * time.Hour
	MaxTTL     = 7 * 24 * time.Hour
)

// verifyWithin: the session's process must have become the ssh client
// with the arguments it named within this; otherwise the session ends.
const verifyWithin = 30 * time.Second

// Options are what a Manager runs with.
type Options struct {
	Store  *credstore.Store
	Logger *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Manager is the daemon's live sessions.
type Manager struct {
	o   Options
	log *slog.Logger

	mu       sync.Mutex
	sessions map[string]*Session
	closed   bool
}

// New builds a Manager.
func New(o Options) *Manager {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Manager{o: o, log: o.Logger, sessions: map[string]*Session{}}
}

// Session is one remote session.
type Session struct {
	m          *Manager
	id         string
	profiles   []string
	tokens     map[string]string // token's SHA-256 (hex) -> profile
	pid        int
	args       []string
	use        *credstore.RemoteUse
	remotePort int
	localPort  int
	opened     time.Time
	expires    time.Time
	srv        *endpoint.Server
	running    atomic.Bool
	ended      atomic.Bool
	stop       chan struct{}
	stopOnce   sync.Once
	served     chan struct{}
}

// Open judges and opens a session for req whose ssh client is process
// pid (the socket peer, about to exec ssh with req.SSHArgs). ctx carries
// the caller and door the session is judged and recorded for.
func (m *Manager) Open(ctx context.Context, req ipc.SessionRequest, pid int) (ipc.SessionOpened, error) {
	if !supported {
		return ipc.SessionOpened{}, errors.New("remote sessions need Linux for now: the daemon cannot watch the ssh client elsewhere")
	}
	if len(req.Profiles) == 0 {
		return ipc.SessionOpened{}, credstore.BadRequestf("a session needs at least one profile")
	}
	profiles := slices.Clone(req.Profiles)
	slices.Sort(profiles)
	if len(slices.Compact(profiles)) != len(req.Profiles) {
		return ipc.SessionOpened{}, credstore.BadRequestf("a profile is named twice")
	}
	profiles = req.Profiles
	ttl := time.Duration(req.TTLSeconds) * time.Second
	switch {
	case req.TTLSeconds == 0:
		ttl = DefaultTTL
	case req.TTLSeconds < 0 || ttl > MaxTTL:
		return ipc.SessionOpened{}, credstore.BadRequestf("a session's TTL is between 1 s and %s", MaxTTL)
	}
	dest, err := Destination(req.SSHArgs)
	if err != nil {
		return ipc.SessionOpened{}, fmt.Errorf("%w: %w", credstore.ErrBadRequest, err)
	}
	id, err := credstore.NewToken("", 9)
	if err != nil {
		return ipc.SessionOpened{}, err
	}
	s := &Session{m: m, id: id, pid: pid, profiles: slices.Clone(profiles),
		use: &credstore.RemoteUse{Session: id, Dest: dest}, tokens: map[string]string{},
		stop: make(chan struct{}), served: make(chan struct{})}
	if err := m.o.Store.OpenSession(ctx, s.use, profiles); err != nil {
		return ipc.SessionOpened{}, err
	}
	w, err := watchProcess(pid)
	if err != nil {
		return ipc.SessionOpened{}, fmt.Errorf("watching the ssh client (pid %d): %w", pid, err)
	}
	opened := ipc.SessionOpened{}
	for _, p := range profiles {
		tok, err := credstore.NewToken(TokenPrefix, 24)
		if err != nil {
			w.close()
			return ipc.SessionOpened{}, err
		}
		s.tokens[credstore.TokenHash(tok)] = p
		opened.Tokens = append(opened.Tokens, ipc.SessionToken{Profile: p, Token: tok})
	}
	l, err := endpoint.Listen(ctx, 0)
	if err != nil {
		w.close()
		return ipc.SessionOpened{}, err
	}
	s.localPort = l.Addr().(*net.TCPAddr).Port
	if s.remotePort, err = remotePort(); err != nil {
		l.Close()
		w.close()
		return ipc.SessionOpened{}, err
	}
	s.args = SSHArgs(s.remotePort, s.localPort, len(profiles) > 1, req.SSHArgs)
	s.opened = m.o.Now()
	s.expires = s.opened.Add(ttl)
	s.srv = endpoint.New(endpoint.Options{Store: m.o.Store, Logger: m.log.With("session", id), Session: s})

	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		l.Close()
		w.close()
		return ipc.SessionOpened{}, errors.New("the daemon is stopping")
	}
	m.sessions[id] = s
	m.mu.Unlock()

	go func() {
		defer close(s.served)
		if err := s.srv.Serve(l); err != nil {
			m.log.Warn("a remote session's endpoint stopped", "session", id, "err", err)
		}
	}()
	go s.watch(w, ttl)
	m.log.Info("remote session opened", "session", id, "destination", dest, "profiles", profiles, "pid", pid, "ttl", ttl.String(), "local_port", s.localPort, "remote_port", s.remotePort)
	opened.Session = s.info()
	opened.LocalPort = s.localPort
	opened.SSHArgs = slices.Clone(s.args)
	return opened, nil
}

// Environment variables torale-cred ssh sets in ssh's environment and ssh
// sends (SendEnv; the server must AcceptEnv them): never in an argument,
// where any local user's ps would read the token.
const (
	EnvKey = "TORALE_API_KEY"
	EnvURL = "TORALE_API_URL"
	// EnvTokens holds the further profiles' tokens, "profile=token,...",
	// when a session has more than one.
	EnvTokens = "TORALE_CRED_SESSION_TOKENS"
)

// SSHArgs are ssh's arguments for a session: the forward of remotePort on
// the remote's loopback to the session's endpoint, the environment sent,
// no connection sharing (a ControlMaster would carry the forward in
// another process, which the session does not serve), and ssh to exit
// rather than run without its forward; then the user's own arguments.
func SSHArgs(remotePort, localPort int, more bool, user []string) []string {
	args := []string{
		"-o", "ControlMaster=no", "-o", "ControlPath=none",
		"-o", "ExitOnForwardFailure=yes",
		"-o", "SendEnv=" + EnvKey, "-o", "SendEnv=" + EnvURL,
	}
	if more {
		args = append(args, "-o", "SendEnv="+EnvTokens)
	}
	args = append(args, "-R", net.JoinHostPort(credstore.EndpointHost, strconv.Itoa(remotePort))+":"+net.JoinHostPort(credstore.EndpointHost, strconv.Itoa(localPort)))
	return append(args, user...)
}

// List is every live session, oldest first.
func (m *Manager) List() []ipc.Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]ipc.Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		out = append(out, s.info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OpenedAt.Before(out[j].OpenedAt) })
	return out
}

// Revoke ends session id, or every session for "", and says how many.
func (m *Manager) Revoke(id string) int {
	m.mu.Lock()
	var ends []*Session
	for sid, s := range m.sessions {
		if id == "" || sid == id {
			ends = append(ends, s)
		}
	}
	m.mu.Unlock()
	for _, s := range ends {
		s.end("revoked")
	}
	return len(ends)
}

// Close ends every session (the daemon stops) and opens no more.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.Revoke("")
}

func (s *Session) info() ipc.Session {
	return ipc.Session{ID: s.id, Profiles: slices.Clone(s.profiles), Destination: s.use.Dest, PID: s.pid,
		RemotePort: s.remotePort, RemoteURL: "http://" + net.JoinHostPort(credstore.EndpointHost, strconv.Itoa(s.remotePort)),
		OpenedAt: s.opened, ExpiresAt: s.expires, Running: s.running.Load()}
}

// ProfileOf implements endpoint.Session: every token compared in
// constant time, none taken once the session has ended or expired.
func (s *Session) ProfileOf(tok string) (string, bool) {
	if s.ended.Load() || !s.m.o.Now().Before(s.expires) {
		return "", false
	}
	h := credstore.TokenHash(tok)
	found := ""
	for th, p := range s.tokens {
		if subtle.ConstantTimeCompare([]byte(th), []byte(h)) == 1 {
			found = p
		}
	}
	return found, found != ""
}

// Admits implements endpoint.Session: the connection's process is the
// session's ssh client, seen running the session's arguments.
func (s *Session) Admits(c *peer.Caller) error {
	switch {
	case s.ended.Load():
		return errors.New("the session has ended")
	case c == nil || c.PID != s.pid:
		return errors.New("the connection is not the session's ssh client's")
	case !s.running.Load():
		return errors.New("the session's ssh client has not started yet")
	case !c.Forwarded:
		return errors.New("the session's process is not an ssh client")
	}
	return nil
}

// Use implements endpoint.Session.
func (s *Session) Use() *credstore.RemoteUse { return s.use }

// RemotePort implements endpoint.Session.
func (s *Session) RemotePort() int { return s.remotePort }

// end stops the session for why: its tokens stop working at once, its
// endpoint stops accepting, and requests in flight get a moment to finish.
func (s *Session) end(why string) {
	s.stopOnce.Do(func() {
		s.ended.Store(true)
		close(s.stop)
		s.m.mu.Lock()
		delete(s.m.sessions, s.id)
		s.m.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = s.srv.Shutdown(ctx)
		s.m.log.Info("remote session ended", "session", s.id, "destination", s.use.Dest, "why", why)
	})
}

// watch ends the session when its ssh client exits, when the TTL passes,
// or when the process does not become the ssh client it named in time;
// it marks the session running once /proc shows ssh with its arguments.
func (s *Session) watch(w *procWatch, ttl time.Duration) {
	defer w.close()
	ttlTimer := time.NewTimer(ttl)
	defer ttlTimer.Stop()
	verifyBy := time.Now().Add(verifyWithin)
	for {
		if !s.running.Load() {
			switch state := w.state(s.args); state {
			case procSSH:
				s.running.Store(true)
			case procOther:
				s.end("the session's process runs something other than ssh with the session's arguments")
				return
			default:
				if time.Now().After(verifyBy) {
					s.end("the session's process did not become its ssh client in time")
					return
				}
			}
		}
		poll := 50 * time.Millisecond
		if s.running.Load() {
			poll = time.Second // the exit itself is seen at once (pidfd)
		}
		select {
		case <-s.stop:
			return
		case <-ttlTimer.C:
			s.end("its TTL passed")
			return
		case <-w.exited:
			s.end("the ssh client exited")
			return
		case <-time.After(poll):
		}
	}
}

// remotePort is a port for the forward on the remote's loopback, chosen
// at random among the unprivileged ones ssh is asked to bind (with
// ExitOnForwardFailure, a port taken there ends ssh with the reason).
func remotePort() (int, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(60000-20000))
	if err != nil {
		return 0, fmt.Errorf("choosing a remote port: %w", err)
	}
	return 20000 + int(n.Int64()), nil
}
