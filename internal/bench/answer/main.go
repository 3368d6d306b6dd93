//go:build linux

// Command answer is the bench's floor for the daemon's side of a look-up:
// a server that answers every /v1/resolve with one fixed key, so the
// minimal client (internal/bench/rawresolve) can be timed against it as a
// process, beside the same client against torale-cred's daemon. It serves
// one of two ways:
//
//   - blocking: one thread, blocking accept, read, write, close, as git's
//     credential-cache daemon (C) does; no Go scheduler or netpoller on the
//     way. The least a daemon's answer costs a new process here.
//   - http: net/http on the netpoller, one P (GOMAXPROCS=1, as the daemon
//     runs), a handler that reads the body and writes the answer. What Go's
//     own serving costs before any of torale-cred's work.
//
// The key arrives on standard input (never in argv); the answer's shape is
// the daemon's (`"api_key":"..."`), which is all rawresolve looks for. A
// measuring tool: it checks nothing and names nobody.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	if len(os.Args) != 3 || (os.Args[1] != "blocking" && os.Args[1] != "http") {
		os.Stderr.WriteString("usage: answer blocking|http SOCKET <key\n")
		os.Exit(2)
	}
	key, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		fail(err)
	}
	body := []byte(`{"profile":"default","api_key":"` + strings.TrimSpace(key) + `","key_source":"keychain"}` + "\n")
	sock := os.Args[2]
	if os.Args[1] == "blocking" {
		fail(serveBlocking(sock, body))
	}
	runtime.GOMAXPROCS(1)
	l, err := net.Listen("unix", sock)
	if err != nil {
		fail(err)
	}
	fail(http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header()["Content-Type"] = []string{"application/json"}
		_, _ = w.Write(body)
	})))
}

func fail(err error) {
	os.Stderr.WriteString("answer: " + err.Error() + "\n")
	os.Exit(1)
}

// serveBlocking answers one connection at a time on this thread.
func serveBlocking(sock string, body []byte) error {
	runtime.LockOSThread()
	lfd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	if err := syscall.Bind(lfd, &syscall.SockaddrUnix{Name: sock}); err != nil {
		return err
	}
	if err := syscall.Listen(lfd, 128); err != nil {
		return err
	}
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\nConnection: close\r\n\r\n" + string(body))
	buf := make([]byte, 64<<10)
	for {
		c, _, err := syscall.Accept4(lfd, syscall.SOCK_CLOEXEC)
		if err == syscall.EINTR || err == syscall.ECONNABORTED {
			continue
		}
		if err != nil {
			return err
		}
		if readRequest(c, buf) {
			_, _ = syscall.Write(c, resp)
		}
		_ = syscall.Close(c)
	}
}

// readRequest reads until the head and its Content-Length of body are in.
func readRequest(c int, buf []byte) bool {
	n := 0
	for n < len(buf) {
		m, err := syscall.Read(c, buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil || m == 0 {
			return false
		}
		n += m
		head, rest, ok := bytes.Cut(buf[:n], []byte("\r\n\r\n"))
		if !ok {
			continue
		}
		want := 0
		for _, line := range strings.Split(string(head), "\r\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Content-Length") {
				want, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		if len(rest) >= want {
			return true
		}
	}
	return false
}
