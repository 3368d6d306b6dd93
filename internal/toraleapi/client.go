// Package toraleapi is a small client for the Torale API's key endpoints.
// It copes with both the documented response shapes and the live server's,
// and never puts a key into an error.
package toraleapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/torale-ai/torale-cred/internal/version"
)

// DefaultTimeout bounds each request.
const DefaultTimeout = 15 * time.Second

// maxBody bounds what is read from the server.
const maxBody = 1 << 20

// Client talks to one Torale API with one key.
type Client struct {
	BaseURL string
	Key     string
	HTTP    *http.Client
}

// New returns a client with timeouts.
func New(baseURL, key string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), Key: key, HTTP: &http.Client{Timeout: DefaultTimeout}}
}

// APIError is a non-2xx answer.
type APIError struct {
	Status     int
	Detail     string        // the server's {"detail": ...}
	RetryAfter time.Duration // from Retry-After on 429
}

func (e *APIError) Error() string {
	d := e.Detail
	if d == "" {
		d = http.StatusText(e.Status)
	}
	s := fmt.Sprintf("the Torale API answered %d: %s", e.Status, d)
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %d seconds)", int(e.RetryAfter.Seconds()))
	}
	return s
}

// Sentinels an *APIError matches with errors.Is, so callers choose their
// words and exit codes without reading the server's text.
var (
	// ErrUnauthorized: 401, the key is wrong or revoked.
	ErrUnauthorized = errors.New("invalid API key")
	// ErrOneActiveKey: 400 from the live server's one-active-key rule on
	// POST /auth/api-keys ("You already have an active API key…").
	ErrOneActiveKey = errors.New("the server allows one active API key")
	// ErrRateLimited: 429; RetryAfter says how long to wait when known.
	ErrRateLimited = errors.New("rate limited")
	// ErrServer: any 5xx.
	ErrServer = errors.New("server error from the Torale API")
	// ErrUnreachable wraps every failure to get an answer at all: no
	// network, refused connection, DNS, TLS, timeout.
	ErrUnreachable = errors.New("cannot reach the Torale API")
)

func (e *APIError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	case ErrServer:
		return e.Status >= 500 && e.Status <= 599
	case ErrOneActiveKey:
		d := strings.ToLower(e.Detail)
		return (e.Status == http.StatusBadRequest || e.Status == http.StatusConflict) &&
			strings.Contains(d, "active") && strings.Contains(d, "key")
	}
	return false
}

// User is GET /auth/me.
type User struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	State string `json:"state"`
}

// Me returns the user the key belongs to.
func (c *Client) Me(ctx context.Context) (User, error) {
	var u User
	err := c.Do(ctx, http.MethodGet, "/auth/me", nil, &u)
	return u, err
}

// Do sends one request with Bearer auth and decodes a JSON answer into out.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, body)
	if err != nil {
		return fmt.Errorf("building the request to %s: %w", c.BaseURL, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Key)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "torale-cred/"+version.String())
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		if isTimeout(err) {
			return &netError{msg: fmt.Sprintf("the Torale API at %s did not answer in time", c.BaseURL), err: err}
		}
		return &netError{msg: fmt.Sprintf("cannot reach the Torale API at %s: %v", c.BaseURL, stripURLErr(err)), err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("reading the Torale API's answer: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		ae := &APIError{Status: resp.StatusCode}
		var d struct {
			Detail     any `json:"detail"`
			RetryAfter any `json:"retry_after"`
		}
		if json.Unmarshal(b, &d) == nil {
			if s, ok := d.Detail.(string); ok {
				ae.Detail = s
			}
			if n, ok := d.RetryAfter.(float64); ok && n > 0 && n < 86400 {
				ae.RetryAfter = time.Duration(n * float64(time.Second)).Round(time.Second)
			}
		}
		if ra := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ra > 0 {
			ae.RetryAfter = ra
		}
		return ae
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("the Torale API answered with unexpected content: %w", err)
	}
	return nil
}

// stripURLErr drops the *url.Error wrapper's repetition of the URL.
func stripURLErr(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// netError is a request that got no answer; it matches ErrUnreachable and
// the underlying cause (context.DeadlineExceeded, *net.OpError, ...).
type netError struct {
	msg string
	err error
}

func (e *netError) Error() string   { return e.msg }
func (e *netError) Unwrap() []error { return []error{ErrUnreachable, e.err} }

// isTimeout reports whether err is a deadline (client timeout or context).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date; 0 when
// absent or unreadable. A day at most: anything longer is not a rate limit
// a person should wait out.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.Atoi(v); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now).Round(time.Second)
	}
	if d <= 0 || d > 24*time.Hour {
		return 0
	}
	return d
}

// DashboardFor is where a person manages keys by hand for the server at
// apiURL: torale.ai's dashboard only for Torale's own API, never for a
// self-hosted one.
func DashboardFor(apiURL string) string {
	if apiURL == "" || apiURL == "https://api.torale.ai" || strings.HasPrefix(apiURL, "https://api.torale.ai/") {
		return "torale.ai → Settings → API Keys"
	}
	return "the API Keys page of your Torale server (" + apiURL + ")"
}
