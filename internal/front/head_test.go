//go:build !windows

package front

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/torale-ai/torale-cred/internal/wire"
)

// readHead is a parser of the daemon's answers: what it accepts, net/http's
// own client reads the same way (status and Content-Length), and the body
// starts where it says.
func FuzzReadHead(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
		"HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\nContent-Length: 3\n\nabc",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\n{}",
		"HTTP/1.0 500\r\nContent-Length: 0\r\n\r\n",
		"garbage",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReader(bytes.NewReader(data))
		h, err := readHead(br)
		if err != nil || h.status < 200 || h.chunked || h.length < 0 || h.length > wire.MaxAnswerBytes {
			return // not an answer the front takes: the full CLI asks again
		}
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(data)), nil)
		if err != nil {
			t.Fatalf("readHead took %q (status %d, length %d); net/http refuses it: %v", data, h.status, h.length, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != h.status || resp.ContentLength != h.length {
			t.Fatalf("readHead read %q as %d/%d; net/http as %d/%d", data, h.status, h.length, resp.StatusCode, resp.ContentLength)
		}
		mine := make([]byte, h.length)
		_, myErr := io.ReadFull(br, mine)
		theirs, theirErr := io.ReadAll(resp.Body)
		if myErr == nil && (theirErr != nil || !bytes.Equal(mine, theirs)) {
			t.Fatalf("body of %q: readHead's %q, net/http's %q (%v)", data, mine, theirs, theirErr)
		}
	})
}

func TestReadHeadRefusesWhatTheFrontCannotFrame(t *testing.T) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\n Content-Length: 1\r\n\r\nx",
		"HTTP/1.1 200 OK\r\nContent-Length: 1",
		"SSH-2.0-OpenSSH\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 5000) + "\r\n\r\n",
	} {
		if h, err := readHead(bufio.NewReader(strings.NewReader(s))); err == nil {
			t.Errorf("readHead(%.40q) = %+v, want an error", s, h)
		}
	}
	h, err := readHead(bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\n")))
	if err != nil || h.status != 200 || h.length != 12 {
		t.Errorf("readHead = %+v, %v; want 200 with 12 bytes", h, err)
	}
}
