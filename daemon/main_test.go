package daemon_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/internal/cli"
	"github.com/torale-ai/torale-cred/internal/proctest"
	"github.com/torale-ai/torale-cred/ipc"
)

// testParallel is how many of the package's parallel tests run at once
// when go test is not given -parallel: all of them.
//
// A test here calls t.Parallel when it shares nothing mutable with the
// others: its own temporary directories, sockets, keychain service name
// (testkeyring.Service) and ports (":0"), and it changes nothing of the
// process (environment, http.DefaultTransport, package variables) nor the
// shared Secret Service's lock state. The others run first, one at a
// time, as Go runs every test that is not parallel; each says why.
const testParallel = 64

// TestMain runs torale-cred's real main under proctest.MainEnv, so tests
// start the daemon and the CLI as separate processes without a build.
func TestMain(m *testing.M) {
	if os.Getenv(proctest.MainEnv) == "1" {
		os.Exit(cli.Main())
	}
	// Every parallel test at once: most of their time is spent waiting.
	if err := proctest.SetParallel(testParallel); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Exit(m.Run())
}

// patience bounds every wait of these tests for something to happen:
// long enough for any loaded machine, it only turns a hang into a
// failure. No test asserts how fast anything ran.
const patience = 30 * time.Second

// eventually polls fn until it succeeds, failing t after patience.
func eventually(t *testing.T, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func dialRaw(t *testing.T, sock string) net.Conn {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// newClient is a daemon client whose every request is bounded, so a test
// waiting on a stuck daemon fails instead of hanging.
func newClient(sock string) *ipc.Client { return ipc.NewClient(sock, patience) }

// tokenDoor is a look-up that hands its key out (as torale-cred token):
// without a door, an answer carries the key's hint only.
func tokenDoor(ctx context.Context) context.Context {
	return credstore.WithDoor(ctx, credstore.DoorToken)
}
