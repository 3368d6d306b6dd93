//go:build !windows

// Package front is the lean torale-cred and git-credential-torale: the two
// doors scripts and git run on every look-up, answered straight from the
// daemon by a binary that links only the standard library's net and
// encoding/json. It handles the happy path alone: anything else (another
// command or flag, no daemon, any error, a warning to print) execs the
// full CLI (torale-cred-cli) with the same command line and environment,
// so that every sentence, warning and exit code is said in one place,
// internal/cli. It builds its requests with internal/lookup and speaks
// internal/wire, the CLI's own rules; it never reads the keychain.
package front

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
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
func dial(sock string, timeout time.Duration) (net.Conn, outcome) {
	conn, err := net.DialTimeout("unix", sock, timeout)
	if err != nil {
		if isTimeout(err) {
			return nil, stuck
		}
		return nil, failed
	}
	if peercred.CheckSelf(conn, sock) != nil {
		conn.Close()
		return nil, failed
	}
	return conn, answered
}

// answer is one of the daemon's answers: its status and its body.
type answer struct {
	status int
	body   []byte
}

// ask posts body to path on conn, the door named in wire.DoorHeader, and
// reads the answer (a Content-Length body of at most wire.MaxAnswerBytes).
// It waits timeout for the answer,
// restarted with wire.ConfirmTimeout more on 102 Processing (a policy is
// asking the user), as ipc.Client does. Only the framing is written here;
// the server is net/http.
func ask(conn net.Conn, path, door string, body []byte, timeout time.Duration) (answer, outcome) {
	_ = conn.SetDeadline(time.Now().Add(timeout))
	var req bytes.Buffer
	fmt.Fprintf(&req, "POST %s HTTP/1.1\r\nHost: torale\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s: %s\r\n\r\n",
		path, len(body), wire.DoorHeader, door)
	req.Write(body)
	if _, err := conn.Write(req.Bytes()); err != nil {
		return answer{}, classify(err)
	}
	br := bufio.NewReader(io.LimitReader(conn, 64<<10+wire.MaxAnswerBytes))
	tp := textproto.NewReader(br)
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return answer{}, classify(err)
		}
		code, ok := statusCode(line)
		if !ok {
			return answer{}, failed
		}
		hdr, err := tp.ReadMIMEHeader()
		if err != nil {
			return answer{}, classify(err)
		}
		if code >= 100 && code < 200 {
			if code == 102 {
				_ = conn.SetDeadline(time.Now().Add(wire.ConfirmTimeout + timeout))
			}
			continue
		}
		if code < 200 || code > 599 || hdr.Get("Transfer-Encoding") != "" {
			return answer{}, failed
		}
		n, err := strconv.ParseInt(hdr.Get("Content-Length"), 10, 64)
		if err != nil || n < 0 || n > wire.MaxAnswerBytes {
			return answer{}, failed
		}
		raw := make([]byte, n)
		if _, err := io.ReadFull(br, raw); err != nil {
			return answer{}, classify(err)
		}
		return answer{status: code, body: raw}, answered
	}
}

// statusCode reads "HTTP/1.1 200 OK".
func statusCode(line string) (int, bool) {
	proto, rest, ok := strings.Cut(line, " ")
	if !ok || !strings.HasPrefix(proto, "HTTP/1.") || len(rest) < 3 {
		return 0, false
	}
	code, err := strconv.Atoi(rest[:3])
	return code, err == nil && (len(rest) == 3 || rest[3] == ' ')
}

func classify(err error) outcome {
	if isTimeout(err) {
		return stuck
	}
	return failed
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
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
