package gitcred

import (
	"context"
	"fmt"
	"io"
)

// Serve answers one operation of git's protocol: the request read from
// stdin, the answer to a get written to stdout. Other operations are
// ignored, as git asks of a helper; a request for a host the helper does
// not know answers nothing, so git asks its next helper. newHelper is
// called once the request is read. The caller (git-credential-torale's
// command line, internal/cli) prints an error and picks its exit code.
func Serve(ctx context.Context, op string, stdin io.Reader, stdout io.Writer, newHelper func() (*Helper, error)) error {
	switch op {
	case "get", "store", "erase":
	default:
		return nil
	}
	c, err := Parse(stdin)
	if err != nil {
		return err
	}
	h, err := newHelper()
	if err != nil {
		return err
	}
	switch op {
	case "get":
		answer, ok, err := h.Get(ctx, c)
		if err != nil || !ok {
			return err
		}
		if err := answer.Encode(stdout); err != nil {
			return fmt.Errorf("the key cannot be passed to git: %w", err)
		}
	case "store":
		return h.Store(ctx, c)
	case "erase":
		return h.Erase(ctx, c)
	}
	return nil
}
