package ipc_test

import (
	"bufio"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/ipc"
)

// A daemon (or anything on the socket) that answers 102 Processing again
// and again never keeps a client waiting past one total bound: the first
// 102 extends the wait once, later ones extend nothing. (It waited forever
// before: each 102 restarted the clock.)
func TestClientWaitHasOneTotalBound(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "cred.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for { // read the request head, then 102 forever
					line, err := br.ReadString('\n')
					if err != nil || line == "\r\n" {
						break
					}
				}
				for {
					if _, err := c.Write([]byte("HTTP/1.1 102 Processing\r\n\r\n")); err != nil {
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
			}()
		}
	}()
	c := ipc.NewClient(sock, 100*time.Millisecond)
	ipc.SetConfirmWait(c, 200*time.Millisecond)
	defer c.Close()
	done := make(chan error, 1)
	go func() {
		_, err := c.Resolve(credstore.WithDoor(t.Context(), credstore.DoorToken), credstore.Request{})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ipc.ErrDaemonStuck) {
			t.Fatalf("err = %v, want ErrDaemonStuck", err)
		}
	case <-time.After(30 * time.Second): // a hang, not a speed check
		t.Fatal("the client is still waiting on a socket that answers only 102 Processing")
	}
}
