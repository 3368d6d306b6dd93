//go:build !windows

// Package front is the lean torale-cred and git-credential-torale: the two
// doors scripts and git run on every look-up, answered straight from the
// daemon by a binary that links no net package and no encoding/json: it
// dials with plain system calls (conn.go) and reads JSON with wire's
// reflection-free tokenizer. It handles the happy path alone: anything else (another
// command or flag, no daemon, any error, a warning to print) execs the
// full CLI (torale-cred-cli) with the same command line and environment,
// so that every sentence, warning and exit code is said in one place,
// internal/cli. It builds its requests with internal/lookup and speaks
// internal/wire, the CLI's own rules; it never reads the keychain.
package front

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/torale-ai/torale-cred/internal/peercred"
	"github.com/torale-ai/torale-cred/internal/progs"
	"github.com/torale-ai/torale-cred/internal/wire"
)

// outcome is how asking the daemon went.
type outcome int

const (
	answered outcome = iota // a whole answer, of any status
	failed                  // anything else: the full CLI asks again and says what it finds
	stuck                   // no answer within the timeout: the full CLI does not wait again
)

// dial connects to the daemon's socket and checks it is served by this
// user (peercred, the CLI's own check).
func dial(sock string, timeout time.Duration) (*conn, outcome) {
	c, err := dialUnix(sock, timeout)
	if err != nil {
		return nil, classify(err)
	}
	if peercred.CheckSelfFD(c.fd, sock) != nil {
		c.Close()
		return nil, failed
	}
	return c, answered
}

// answer is one of the daemon's answers: its status and its body.
type answer struct {
	status int
	body   []byte
}

// maxHead bounds an answer's status line and headers.
const maxHead = 64 << 10

// ask posts body to path on c, the door named in wire.DoorHeader, and
// reads the answer (a Content-Length body of at most wire.MaxAnswerBytes).
// It waits timeout for the answer, restarted with wire.ConfirmTimeout more
// on 102 Processing (a policy is asking the user), as ipc.Client does.
// Only the framing is written here; the server is net/http.
func ask(c *conn, path, door string, body []byte, timeout time.Duration) (answer, outcome) {
	req := make([]byte, 0, 160+len(body))
	// Connection: close: one request per connection, so the daemon closes
	// after its answer instead of waiting for another request and waking
	// again on our exit.
	req = append(append(append(req, "POST "...), path...), " HTTP/1.1\r\nHost: torale\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: "...)
	req = strconv.AppendInt(req, int64(len(body)), 10)
	req = append(append(append(append(append(req, "\r\n"...), wire.DoorHeader...), ": "...), door...), "\r\n\r\n"...)
	if err := c.writeAll(append(req, body...)); err != nil {
		return answer{}, classify(err)
	}
	br := bufio.NewReader(io.LimitReader(c, maxHead+wire.MaxAnswerBytes))
	for {
		h, err := readHead(br)
		if err != nil {
			return answer{}, classify(err)
		}
		if h.status >= 100 && h.status < 200 {
			if h.status == 102 {
				c.extend(wire.ConfirmTimeout + timeout)
			}
			continue
		}
		if h.status < 200 || h.status > 599 || h.chunked || h.length < 0 || h.length > wire.MaxAnswerBytes {
			return answer{}, failed
		}
		raw := make([]byte, h.length)
		if _, err := io.ReadFull(br, raw); err != nil {
			return answer{}, classify(err)
		}
		return answer{status: h.status, body: raw}, answered
	}
}

// head is what a front reads of an answer's status line and headers.
type head struct {
	status  int
	length  int64 // Content-Length, -1 when absent
	chunked bool  // any Transfer-Encoding: not what the daemon sends
}

var errBadHead = errors.New("not an HTTP/1.1 answer")

// readHead reads one status line and its header lines, up to the blank
// line, from at most maxHead bytes. Content-Length given twice, or a line
// it cannot read, is an error.
func readHead(br *bufio.Reader) (head, error) {
	h := head{length: -1}
	line, err := readLine(br)
	if err != nil {
		return h, err
	}
	var ok bool
	if h.status, ok = statusCode(line); !ok || h.status == 204 || h.status == 304 {
		// (204 and 304 carry no body whatever their headers say; the
		// daemon sends neither.)
		return h, errBadHead
	}
	for n := len(line); ; {
		line, err := readLine(br)
		if err != nil {
			return h, err
		}
		if n += len(line) + 2; n > maxHead {
			return h, errBadHead
		}
		if line == "" {
			return h, nil
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || !token(name) || !fieldValue(value) {
			return h, errBadHead
		}
		value = strings.Trim(value, " \t")
		switch {
		case strings.EqualFold(name, "Content-Length"):
			v, err := strconv.ParseUint(value, 10, 63)
			if err != nil || h.length >= 0 || value[0] == '+' {
				return h, errBadHead
			}
			h.length = int64(v)
		case strings.EqualFold(name, "Transfer-Encoding"):
			h.chunked = true
		}
	}
}

// token reports whether s is an HTTP token (a header's name).
func token(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return s != ""
}

// fieldValue reports whether s holds no control character but tab.
func fieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// readLine is one line without its CRLF (or LF); a line longer than the
// reader's buffer is an error.
func readLine(br *bufio.Reader) (string, error) {
	b, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return "", errBadHead
	}
	if err == io.EOF && len(b) > 0 {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return "", err
	}
	b = b[:len(b)-1]
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	return string(b), nil
}

// statusCode reads "HTTP/1.1 200 OK" (or HTTP/1.0): three digits.
func statusCode(line string) (int, bool) {
	proto, rest, ok := strings.Cut(line, " ")
	if !ok || (proto != "HTTP/1.1" && proto != "HTTP/1.0") || len(rest) < 3 || (len(rest) > 3 && rest[3] != ' ') {
		return 0, false
	}
	code := 0
	for _, c := range []byte(rest[:3]) {
		if c < '0' || c > '9' {
			return 0, false
		}
		code = code*10 + int(c-'0')
	}
	return code, code >= 100
}

func classify(err error) outcome {
	if errors.Is(err, errTimeout) {
		return stuck
	}
	return failed
}

// delegate execs the full CLI (progs.CLI, found by progs' rule) in place
// of this process, with argv0 and this process's arguments, its
// environment and extra: the command line, the streams and the pid stay
// (systemd's ExecStart and LISTEN_PID with them). It returns only when
// that fails.
func delegate(argv0 string, extra ...string) int {
	path, err := progs.Find(progs.CLI)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v; reinstall torale-cred\n", argv0, err)
		return 1
	}
	env := make([]string, 0, len(os.Environ())+len(extra))
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, progs.FrontEnv+"=") && !strings.HasPrefix(kv, progs.DaemonStuckEnv+"=") {
			env = append(env, kv)
		}
	}
	for _, kv := range extra {
		if kv != "" {
			env = append(env, kv)
		}
	}
	argv := append([]string{argv0}, os.Args[1:]...)
	err = syscall.Exec(path, argv, env)
	fmt.Fprintf(os.Stderr, "%s: running %s: %v\n", argv0, path, err)
	return 1
}

// argv0 is this process's argv[0] when its name is name, else name: the
// full CLI picks torale-cred or git-credential-torale by it.
func argv0(name string) string {
	if len(os.Args) > 0 && filepath.Base(os.Args[0]) == name {
		return os.Args[0]
	}
	return name
}

// stuckEnv is what delegate adds after a look-up the daemon did not answer.
var stuckEnv = progs.DaemonStuckEnv + "=1"

// handOn leaves a, the answer to the look-up through door, on a
// descriptor the full CLI inherits and returns the variable that names it
// (progs.DaemonAnswerFDEnv), or "" when it cannot: the CLI then asks again.
// The first line is "STATUS DOOR"; the CLI takes the answer as its own
// look-up's through that door only.
func handOn(a answer, door string) string {
	data := append([]byte(strconv.Itoa(a.status)+" "+door+"\n"), a.body...)
	fd, err := inheritable(data)
	if err != nil {
		return ""
	}
	return progs.DaemonAnswerFDEnv + "=" + strconv.Itoa(fd)
}

// usable reports whether the daemon is to be asked at all: the CLI itself
// asks only when TORALE_CRED_NO_DAEMON is not 1, and answers a key from the
// environment without it.
func usable() bool {
	return os.Getenv("TORALE_CRED_NO_DAEMON") != "1" && os.Getenv("TORALE_API_KEY") == ""
}

// profileFlag reads one --profile NAME or --profile=NAME at args[i]: the
// name, how many arguments it took (0: not a profile flag), ok false for
// a flag without a usable value.
func profileFlag(args []string, i int) (name string, n int, ok bool) {
	a := args[i]
	switch {
	case a == "--profile":
		if i+1 >= len(args) || args[i+1] == "" {
			return "", 2, false
		}
		return args[i+1], 2, true
	case strings.HasPrefix(a, "--profile="):
		v := strings.TrimPrefix(a, "--profile=")
		return v, 1, v != ""
	}
	return "", 0, true
}

// hotArgs is the one command line a front answers itself: the word verb
// and at most one --profile, in any order; ok false for anything else.
func hotArgs(args []string, verb string) (profile string, ok bool) {
	seenVerb, seenProfile := false, false
	for i := 0; i < len(args); {
		name, n, fok := profileFlag(args, i)
		switch {
		case !fok:
			return "", false
		case n > 0 && !seenProfile:
			profile, seenProfile = name, true
			i += n
		case n == 0 && args[i] == verb && !seenVerb:
			seenVerb = true
			i++
		default:
			return "", false
		}
	}
	return profile, seenVerb
}
