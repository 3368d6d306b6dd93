package gitcred

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// git shows a helper's stderr on the user's terminal: a sentence naming a
// program or a file's value goes out escaped, and stays one line.
func TestFailEscapes(t *testing.T) {
	var b bytes.Buffer
	fail(&b, errors.New("denied /tmp/x\r\x1b[2Kfake\nline\u202e"))
	h := &Helper{Stderr: &b}
	h.notef("not storing for %s", "host\x1b]0;t\a")
	out := b.String()
	if strings.ContainsAny(out, "\r\x1b\a\u202e") || strings.Count(out, "\n") != 2 || !strings.Contains(out, `/tmp/x\r\x1b[2Kfake\nline\u202e`) {
		t.Fatalf("stderr = %q", out)
	}
}
