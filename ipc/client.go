package ipc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/internal/peercred"
)

// ErrNoDaemon: nothing listens on the socket (no file, or nobody accepts).
// Callers fall back to the local Backend.
var ErrNoDaemon = errors.New("the torale-cred daemon is not running")

// ErrDaemonStuck: the daemon accepted but did not answer in time, or cut
// the connection (stopped, overloaded). Reading the keychain directly is
// safe then too: the daemon answers from the same keychain.
var ErrDaemonStuck = errors.New("the torale-cred daemon did not answer")

// stuckError is ErrDaemonStuck for the daemon on socket, in one sentence.
func stuckError(socket string) error {
	return fmt.Errorf("%w on %s (it may be stopped or overloaded)", ErrDaemonStuck, socket)
}

// Error is an error answer from the daemon. It matches credstore's
// sentinels with errors.Is, so callers decide exit codes as for local
// errors.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return fmt.Sprintf("the daemon answered %d %s", e.Status, e.Code)
}

// Is maps the wire codes onto credstore's sentinels.
func (e *Error) Is(target error) bool {
	switch e.Code {
	case CodeNotFound:
		return target == storeerr.ErrNotFound
	case CodeKeychain:
		return target == storeerr.ErrKeychain
	case CodeBadKey:
		return target == apikey.ErrBadKey
	case CodeBadProfile:
		return target == credstore.ErrBadProfile
	case CodeBadURL:
		return target == credstore.ErrBadURL
	case CodeBadRequest:
		return target == credstore.ErrBadRequest
	case CodeDenied:
		return target == credstore.ErrDenied
	}
	return false
}

// Client is the daemon's Backend seen from another process. Before sending
// anything it checks that the socket is served by this same user: a key is
// never handed to, or asked of, another user's process.
type Client struct {
	socket  string
	hc      *http.Client
	timeout time.Duration
	// confirmWait is how much longer a request waits once the daemon says
	// a policy is asking the user (credstore.ConfirmTimeout; tests less).
	confirmWait time.Duration
}

var _ credstore.Backend = (*Client)(nil)

// NewClient is a client for the socket at path; it dials only when used.
// timeout bounds each request (0: none beyond the caller's context).
func NewClient(path string, timeout time.Duration) *Client {
	c := &Client{socket: path, timeout: timeout, confirmWait: credstore.ConfirmTimeout}
	tr := &http.Transport{
		DialContext:            c.dial,
		MaxIdleConns:           2,
		IdleConnTimeout:        30 * time.Second,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 16 << 10,
	}
	c.hc = &http.Client{Transport: tr}
	return c
}

// Socket is the path the client dials.
func (c *Client) Socket() string { return c.socket }

// Close drops idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

func (c *Client) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.socket)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOTDIR) {
			return nil, fmt.Errorf("%w (no answer on %s)", ErrNoDaemon, c.socket)
		}
		return nil, fmt.Errorf("connecting to the daemon on %s: %w", c.socket, err)
	}
	if err := peercred.CheckSelf(conn, c.socket); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// send is the one way a request is made: method and path, a body to
// encode (nil for none) and where to decode the answer. Every non-200
// answer comes back as an *Error; a daemon that does not answer in time or
// cuts the connection as ErrDaemonStuck.
func (c *Client) send(parent context.Context, method, path string, in, out any) error {
	ctx, stop := c.deadline(parent)
	defer stop()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encoding the request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://torale"+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if d := credstore.DoorFrom(ctx); d != "" {
		req.Header[DoorHeader] = []string{d}
	} else {
		req.Header[DoorHeader] = []string{credstore.HintOnly}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		switch {
		case errors.Is(err, ErrNoDaemon):
			return err
		case parent.Err() != nil:
			return parent.Err()
		case ctx.Err() != nil, errors.Is(err, context.DeadlineExceeded), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
			errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), isTimeout(err):
			return stuckError(c.socket)
		}
		return fmt.Errorf("asking the daemon on %s: %w", c.socket, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, credstore.MaxAnswerBytes))
	if err != nil {
		return fmt.Errorf("%w on %s: its answer was cut off", ErrDaemonStuck, c.socket)
	}
	return answer(resp.StatusCode, raw, out)
}

// answer is what a client makes of the daemon's answer: status and body
// raw (at most credstore.MaxAnswerBytes) decoded into out on 200, else an
// *Error.
func answer(status int, raw []byte, out any) error {
	if status != http.StatusOK {
		var eb ErrorBody
		if json.Unmarshal(raw, &eb) != nil || eb.Error == "" {
			return &Error{Status: status, Code: CodeInternal, Message: fmt.Sprintf("the daemon answered %d %s", status, http.StatusText(status))}
		}
		return &Error{Status: status, Code: eb.Error, Message: eb.Message}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("decoding the daemon's answer: %w", err)
		}
	}
	return nil
}

// deadline bounds one request by the client's timeout, extended once
// (by credstore.ConfirmTimeout) when the daemon first answers 102
// Processing: a policy is asking the user. Later 102s extend nothing, so
// one request waits at most 2×timeout + ConfirmTimeout, whatever the
// other end sends.
func (c *Client) deadline(parent context.Context) (context.Context, func()) {
	if c.timeout <= 0 {
		return parent, func() {}
	}
	ctx, cancel := context.WithCancel(parent)
	t := time.AfterFunc(c.timeout, cancel)
	var extended atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
			if code == http.StatusProcessing && extended.CompareAndSwap(false, true) {
				t.Reset(c.confirmWait + c.timeout)
			}
			return nil
		},
	})
	return ctx, func() { t.Stop(); cancel() }
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Info asks GET /v1/health.
func (c *Client) Info(ctx context.Context) (Health, error) {
	var h Health
	err := c.send(ctx, http.MethodGet, "/v1/health", nil, &h)
	return h, err
}

// Health implements credstore.Backend: nil when the daemon's keychain is ok.
func (c *Client) Health(ctx context.Context) error {
	h, err := c.Info(ctx)
	if err != nil {
		return err
	}
	if h.Keychain != "ok" {
		return &keychain.Error{Fault: keychain.FaultUnavailable, Reason: strings.TrimPrefix(h.Keychain, "unavailable: ")}
	}
	return nil
}

// Resolve implements credstore.Backend: POST /v1/resolve.
func (c *Client) Resolve(ctx context.Context, req credstore.Request) (credstore.Resolution, error) {
	var r credstore.Resolution
	err := c.send(ctx, http.MethodPost, "/v1/resolve", req, &r)
	return r, err
}

// Stored implements credstore.Backend: GET /v1/credentials/{profile}.
func (c *Client) Stored(ctx context.Context, profile string) (credstore.Resolution, error) {
	var r credstore.Resolution
	err := c.send(ctx, http.MethodGet, "/v1/credentials/"+url.PathEscape(profile), nil, &r)
	return r, err
}

// List implements credstore.Backend: GET /v1/credentials.
func (c *Client) List(ctx context.Context) ([]credstore.ProfileInfo, error) {
	var l CredentialList
	err := c.send(ctx, http.MethodGet, "/v1/credentials", nil, &l)
	return l.Profiles, err
}

// Put implements credstore.Backend: PUT /v1/credentials/{profile}.
func (c *Client) Put(ctx context.Context, profile, key string, o credstore.PutOptions) (credstore.ProfileInfo, error) {
	var info credstore.ProfileInfo
	err := c.send(ctx, http.MethodPut, "/v1/credentials/"+url.PathEscape(profile), putBody{APIKey: key, PutOptions: o}, &info)
	return info, err
}

// Delete implements credstore.Backend: DELETE /v1/credentials/{profile}.
func (c *Client) Delete(ctx context.Context, profile string) error {
	return c.send(ctx, http.MethodDelete, "/v1/credentials/"+url.PathEscape(profile), nil, nil)
}

// OpenSession asks POST /v1/sessions: a remote session whose ssh client
// will be this very process (it execs ssh next).
func (c *Client) OpenSession(ctx context.Context, req SessionRequest) (SessionOpened, error) {
	var o SessionOpened
	err := c.send(credstore.WithDoor(ctx, credstore.DoorSSH), http.MethodPost, "/v1/sessions", req, &o)
	return o, err
}

// Sessions asks GET /v1/sessions.
func (c *Client) Sessions(ctx context.Context) ([]Session, error) {
	var l SessionList
	err := c.send(ctx, http.MethodGet, "/v1/sessions", nil, &l)
	return l.Sessions, err
}

// RevokeSessions asks DELETE /v1/sessions: session id, or all for "".
func (c *Client) RevokeSessions(ctx context.Context, id string) (int, error) {
	var rv SessionsRevoked
	path := "/v1/sessions"
	if id != "" {
		path += "?id=" + url.QueryEscape(id)
	}
	err := c.send(ctx, http.MethodDelete, path, nil, &rv)
	return rv.Revoked, err
}
