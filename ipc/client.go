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
	"net/url"
	"os"
	"syscall"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
)

// ErrNoDaemon: nothing listens on the socket (no file, or nobody accepts).
// Callers fall back to reading the keychain themselves.
var ErrNoDaemon = errors.New("the torale-cred daemon is not running")

// Error is an error answer from the daemon. It matches the credstore
// sentinels with errors.Is, so callers decide exit codes as for local errors.
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
		return target == credstore.ErrNotFound
	case CodeKeychain:
		return target == credstore.ErrKeychain
	case CodeBadKey:
		return target == credstore.ErrBadKey
	case CodeBadProfile:
		return target == credstore.ErrBadProfile
	}
	return false
}

// Client talks to the daemon over its socket. It checks, before sending
// anything, that the socket is served by this same user: a key is never
// handed to another user's process.
type Client struct {
	socket string
	hc     *http.Client
}

// NewClient is a client for the socket at path; it dials only when used.
func NewClient(path string) *Client {
	c := &Client{socket: path}
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
	uid, err := PeerUID(conn)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("checking who serves %s: %w", c.socket, err)
	}
	if me := uint32(os.Getuid()); uid != me {
		conn.Close()
		return nil, fmt.Errorf("%s is served by user id %d, not by you (%d); refusing to talk to it", c.socket, uid, me)
	}
	return conn, nil
}

// send is the one way a request is made: method and path, the status
// wanted, a body to encode (nil for none) and where to decode the answer.
func (c *Client) send(ctx context.Context, method, path string, want int, in, out any) error {
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
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, ErrNoDaemon) {
			return err
		}
		return fmt.Errorf("asking the daemon on %s: %w", c.socket, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("reading the daemon's answer: %w", err)
	}
	if resp.StatusCode != want {
		var eb ErrorBody
		if json.Unmarshal(raw, &eb) != nil || eb.Error == "" {
			return &Error{Status: resp.StatusCode, Code: CodeInternal, Message: fmt.Sprintf("the daemon answered %s", resp.Status)}
		}
		return &Error{Status: resp.StatusCode, Code: eb.Error, Message: eb.Message}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("decoding the daemon's answer: %w", err)
		}
	}
	return nil
}

// Health asks GET /v1/health.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	err := c.send(ctx, http.MethodGet, "/v1/health", http.StatusOK, nil, &h)
	return h, err
}

// Resolve asks POST /v1/resolve with the caller's flags and environment.
func (c *Client) Resolve(ctx context.Context, req credstore.Request) (Resolution, error) {
	var r Resolution
	err := c.send(ctx, http.MethodPost, "/v1/resolve", http.StatusOK, RequestFrom(req), &r)
	return r, err
}

// Stored asks GET /v1/credentials/{profile}: the keychain tier alone.
func (c *Client) Stored(ctx context.Context, profile string) (Resolution, error) {
	var r Resolution
	err := c.send(ctx, http.MethodGet, "/v1/credentials/"+url.PathEscape(profile), http.StatusOK, nil, &r)
	return r, err
}

// List asks GET /v1/credentials.
func (c *Client) List(ctx context.Context) (CredentialList, error) {
	var l CredentialList
	err := c.send(ctx, http.MethodGet, "/v1/credentials", http.StatusOK, nil, &l)
	return l, err
}

// Put stores key for profile through the daemon.
func (c *Client) Put(ctx context.Context, profile, key string, o credstore.PutOptions) (ProfileInfo, error) {
	var info ProfileInfo
	in := PutRequest{APIKey: key, Source: o.Source, CreatedAt: o.CreatedAt, KeyID: o.KeyID, APIURL: o.APIURL}
	err := c.send(ctx, http.MethodPut, "/v1/credentials/"+url.PathEscape(profile), http.StatusOK, in, &info)
	return info, err
}

// Delete removes profile's key through the daemon.
func (c *Client) Delete(ctx context.Context, profile string) error {
	return c.send(ctx, http.MethodDelete, "/v1/credentials/"+url.PathEscape(profile), http.StatusOK, nil, nil)
}
