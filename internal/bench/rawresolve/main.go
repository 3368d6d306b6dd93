// Command rawresolve is the bench's floor for a Go process that asks the
// daemon: a static program that dials the socket (rawresolve SOCKET),
// writes one /v1/resolve request, reads the answer's status line, headers
// and body, and prints the key. It links only net, bufio and
// encoding/json, so what torale-cred token costs beyond it is
// torale-cred's own start-up, not the daemon's answer. A measuring tool:
// the daemon's own HTTP is net/http's, never a parser like this.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
)

const body = `{"profile":"default","env":{}}`

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: rawresolve SOCKET")
		os.Exit(2)
	}
	key, err := resolve(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "rawresolve:", err)
		os.Exit(1)
	}
	fmt.Println(key)
}

func resolve(sock string) (string, error) {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return "", err
	}
	defer c.Close()
	req := "POST /v1/resolve HTTP/1.1\r\nHost: torale\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body
	if _, err := io.WriteString(c, req); err != nil {
		return "", err
	}
	br := bufio.NewReader(c)
	status, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(status, "HTTP/1.1 200 ") {
		return "", fmt.Errorf("the daemon answered %q", strings.TrimSpace(status))
	}
	n := -1
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return "", err
		}
		if line == "\r\n" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Content-Length") {
			if n, err = strconv.Atoi(strings.TrimSpace(v)); err != nil {
				return "", err
			}
		}
	}
	if n < 0 {
		return "", fmt.Errorf("no Content-Length")
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		return "", err
	}
	var a struct {
		APIKey string `json:"api_key"`
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return "", err
	}
	return a.APIKey, nil
}
