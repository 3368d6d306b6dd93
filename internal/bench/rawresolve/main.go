// Command rawresolve is the bench's floor for a process that asks the
// daemon: a static program that opens the socket with plain system calls
// (socket, connect, write, read: no net package, no poller, no JSON
// library), writes one hand-written /v1/resolve request, reads the whole
// answer and prints the key it finds in it. What torale-cred token costs
// beyond it is torale-cred's own work, not the daemon's answer. A
// measuring tool: it trusts the answer's shape, which no real client may.
package main

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

const body = `{"profile":"default","env":{}}`

func main() {
	if len(os.Args) != 2 {
		os.Stderr.WriteString("usage: rawresolve SOCKET\n")
		os.Exit(2)
	}
	key, err := resolve(os.Args[1])
	if err != nil {
		os.Stderr.WriteString("rawresolve: " + err.Error() + "\n")
		os.Exit(1)
	}
	os.Stdout.WriteString(key + "\n")
}

type failure string

func (f failure) Error() string { return string(f) }

func resolve(sock string) (string, error) {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		return "", err
	}
	defer syscall.Close(fd)
	if err := syscall.Connect(fd, &syscall.SockaddrUnix{Name: sock}); err != nil {
		return "", err
	}
	req := "POST /v1/resolve HTTP/1.1\r\nHost: torale\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body
	if _, err := syscall.Write(fd, []byte(req)); err != nil {
		return "", err
	}
	// Connection: close: the answer ends where the daemon closes.
	var buf [8192]byte
	n := 0
	for n < len(buf) {
		m, err := syscall.Read(fd, buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return "", err
		}
		if m == 0 {
			break
		}
		n += m
	}
	ans := buf[:n]
	if !bytes.HasPrefix(ans, []byte("HTTP/1.1 200 ")) {
		return "", failure("the daemon did not answer 200")
	}
	const field = `"api_key":"`
	i := bytes.Index(ans, []byte(field))
	if i < 0 {
		return "", failure("no api_key in the answer")
	}
	rest := ans[i+len(field):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return "", failure("a cut answer")
	}
	return string(rest[:j]), nil
}
