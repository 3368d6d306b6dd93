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
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

// ErrUnauthorized is matched by a 401 APIError.
var ErrUnauthorized = errors.New("invalid API key")

func (e *APIError) Is(target error) bool {
	return target == ErrUnauthorized && e.Status == http.StatusUnauthorized
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
		return fmt.Errorf("cannot reach the Torale API at %s: %w", c.BaseURL, stripURLErr(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("reading the Torale API's answer: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		ae := &APIError{Status: resp.StatusCode}
		var d struct {
			Detail any `json:"detail"`
		}
		if json.Unmarshal(b, &d) == nil {
			if s, ok := d.Detail.(string); ok {
				ae.Detail = s
			}
		}
		if s := resp.Header.Get("Retry-After"); s != "" {
			if n, err := strconv.Atoi(s); err == nil {
				ae.RetryAfter = time.Duration(n) * time.Second
			}
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
