package gitcred

import (
	"bytes"
	"strings"
	"testing"
)

// git shows a helper's stderr on the user's terminal: a note naming a
// host goes out escaped, and stays one line.
func TestNotefEscapes(t *testing.T) {
	var b bytes.Buffer
	h := &Helper{Stderr: &b}
	h.notef("not storing for %s", "host\x1b]0;t\a")
	out := b.String()
	if strings.ContainsAny(out, "\r\x1b\a\u202e") || strings.Count(out, "\n") != 1 {
		t.Fatalf("stderr = %q", out)
	}
}
