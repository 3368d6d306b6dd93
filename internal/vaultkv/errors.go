package vaultkv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Kind says which way a Vault call failed.
type Kind int

const (
	KindUnreachable Kind = iota // no answer: down, wrong address, TLS
	KindSealed                  // sealed, standby, or not ready (503)
	KindDenied                  // the token's policy does not allow it (403)
	KindNotFound                // no secret, no such field, a deleted version
	KindLogin                   // no token could be obtained
	KindOther
)

// Sentinels for errors.Is.
var (
	ErrUnavailable = errors.New("vault unavailable") // KindUnreachable, KindSealed, KindLogin, KindOther
	ErrDenied      = errors.New("permission denied")
	ErrNotFound    = errors.New("secret not found")
)

// Error is a Vault failure as one sentence: what was being done, at which
// address, why. It never holds a key: Vault's error answers do not echo
// request bodies.
type Error struct {
	Kind  Kind
	Addr  string
	Doing string
	Err   error
}

func (e *Error) Error() string {
	at := ""
	if e.Addr != "" {
		at = " at " + e.Addr
	}
	switch e.Kind {
	case KindUnreachable:
		return fmt.Sprintf("Vault%s cannot be reached while %s (%v)", at, e.Doing, e.Err)
	case KindSealed:
		return fmt.Sprintf("Vault%s is sealed or not ready while %s (%v)", at, e.Doing, e.Err)
	case KindDenied:
		return fmt.Sprintf("Vault%s denied %s: the token's policy does not allow it", at, e.Doing)
	case KindNotFound:
		return fmt.Sprintf("Vault%s: %v", at, e.Err)
	case KindLogin:
		return fmt.Sprintf("cannot log in to Vault%s: %s: %v", at, e.Doing, e.Err)
	}
	return fmt.Sprintf("Vault%s failed while %s: %v", at, e.Doing, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

func (e *Error) Is(target error) bool {
	switch target {
	case ErrDenied:
		return e.Kind == KindDenied
	case ErrNotFound:
		return e.Kind == KindNotFound
	case ErrUnavailable:
		return e.Kind != KindDenied && e.Kind != KindNotFound
	}
	return false
}

// classify turns the client library's error into an *Error (nil stays nil).
func (c *Client) classify(err error, doing string) error {
	if err == nil {
		return nil
	}
	var ve *Error
	if errors.As(err, &ve) {
		return err
	}
	e := &Error{Kind: KindOther, Addr: c.cfg.Addr, Doing: doing, Err: err}
	var re *apiError
	switch {
	case errors.Is(err, errSecretNotFound):
		e.Kind = KindNotFound
		e.Err = fmt.Errorf("no secret at %s/%s (KV v2 mount %q, path %q); check --mount and --path, or write it: vault kv put -mount=%s %s %s=-",
			c.cfg.Mount, c.cfg.Path, c.cfg.Mount, c.cfg.Path, c.cfg.Mount, c.cfg.Path, c.cfg.field())
	case errors.As(err, &re):
		e.Err = errors.New(responseDetail(re))
		switch re.StatusCode {
		case http.StatusForbidden:
			e.Kind = KindDenied
		case http.StatusNotFound:
			e.Kind = KindNotFound
			e.Err = fmt.Errorf("no KV v2 engine or secret at %s/%s (404: %s); check --mount and --path", c.cfg.Mount, c.cfg.Path, responseDetail(re))
		case http.StatusServiceUnavailable, http.StatusTooManyRequests, 473:
			e.Kind = KindSealed
		case http.StatusBadRequest:
			if strings.Contains(doing, "login") || strings.Contains(doing, "logging in") {
				e.Kind = KindLogin
			}
		}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		e.Kind = KindUnreachable
	default:
		e.Kind = KindUnreachable
	}
	return e
}

func responseDetail(re *apiError) string { return re.Error() }
