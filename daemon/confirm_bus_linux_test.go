//go:build linux

package daemon

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/internal/audit"
	"github.com/torale-ai/torale-cred/internal/notify/notifytest"
	"github.com/torale-ai/torale-cred/internal/peer"
	"github.com/torale-ai/torale-cred/ipc"
)

const confirmKey = "sk_CONFIRMconfirmCONFIRMconfirmCONF01"

// TestConfirmOnRealBus puts policy confirm's question to a notification
// server on a real session bus, through the real socket: Allow once and
// Allow always hand the key out (Always lists the program), Deny, no
// answer in time and a desktop that cannot ask are a 403 "denied"; each
// is in the audit trail, and no question or line holds the key. Not
// parallel: notifytest.PrivateBus sets DBUS_SESSION_BUS_ADDRESS.
func TestConfirmOnRealBus(t *testing.T) {
	notifytest.PrivateBus(t)
	srv := notifytest.Serve(t)
	// The daemon waits for an answer as long as a test may take: no answer
	// the test gives comes too late, however loaded the machine.
	p := startInProcess(t, `{}`, func(c *Config) { c.ConfirmWait = patience })
	ctx := context.Background()
	if _, err := p.d.Store().Put(ctx, credstore.DefaultProfile, confirmKey, credstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := p.d.Store().SetPolicy(credstore.DefaultProfile, credstore.Policy{Mode: credstore.PolicyConfirm}); err != nil {
		t.Fatal(err)
	}
	// This test binary is torale-cred's own executable to the daemon, so
	// the caller judged and asked about is the program behind it (go test).
	exe := (*peer.Identifier)(nil).Behind(peer.Self(), credstore.DoorToken).Exe
	c := ipc.NewClient(p.sock, patience)
	defer c.Close()
	lookWith := func(c *ipc.Client) (credstore.Resolution, error) {
		return c.Resolve(credstore.WithDoor(ctx, credstore.DoorToken), credstore.Request{})
	}
	look := func() (credstore.Resolution, error) { return lookWith(c) }

	t.Run("deny", func(t *testing.T) {
		srv.AutoAnswer("deny")
		if _, err := look(); !errors.Is(err, credstore.ErrDenied) || !strings.Contains(err.Error(), "you denied") {
			t.Fatalf("deny: %v", err)
		}
	})
	t.Run("no answer in time", func(t *testing.T) {
		const wait = 700 * time.Millisecond
		store := p.d.Store()
		store.ConfirmWait = wait // read per look-up; none runs now
		defer func() { store.ConfirmWait = patience }()
		srv.AutoAnswer("")
		start := time.Now()
		_, err := look()
		if !errors.Is(err, credstore.ErrDenied) || !strings.Contains(err.Error(), "nobody allowed") {
			t.Fatalf("timeout: %v", err)
		}
		if d := time.Since(start); d < wait {
			t.Fatalf("denied after %v, before the %v the daemon was to wait", d, wait)
		}
	})
	t.Run("allow once, answered after the client's own timeout", func(t *testing.T) {
		// A client that gives up after 2 s unless told to wait: the
		// daemon's 102 Processing (sent before it asks, so well within
		// that) must stretch it past the user's answer, which comes only
		// once those 2 s are over.
		const clientWait = 2 * time.Second
		short := ipc.NewClient(p.sock, clientWait)
		defer short.Close()
		srv.AutoAnswer("")
		start := time.Now()
		go func() {
			calls, err := srv.WaitCalls(ctx, len(srv.Calls())+1)
			if err != nil {
				return
			}
			time.Sleep(clientWait + 100*time.Millisecond - time.Since(start)) // at least: past the client's own timeout
			_ = srv.Invoke(calls[len(calls)-1].ID, "allow_once")
		}()
		r, err := lookWith(short)
		if err != nil || r.Key != confirmKey {
			t.Fatalf("allow once: %q %v", apikey.Hint(r.Key), err)
		}
		if d := time.Since(start); d < clientWait {
			t.Fatalf("answered after %v, within the client's own timeout: nothing was stretched", d)
		}
	})
	t.Run("allow always", func(t *testing.T) {
		srv.AutoAnswer("allow_always")
		if r, err := look(); err != nil || r.Key != confirmKey {
			t.Fatalf("allow always: %v", err)
		}
		n := len(srv.Calls())
		srv.AutoAnswer("deny")
		if r, err := look(); err != nil || r.Key != confirmKey {
			t.Fatalf("after allow always: %v", err)
		}
		if len(srv.Calls()) != n {
			t.Fatal("asked again after Allow always")
		}
		st, _ := p.state.Load()
		if pol := st.Policies[credstore.DefaultProfile]; pol.Mode != credstore.PolicyConfirm || len(pol.Allow) != 1 || pol.Allow[0] != exe {
			t.Fatalf("policy = %+v, want confirm with %s allowed", pol, exe)
		}
		if err := p.d.Store().SetPolicy(credstore.DefaultProfile, credstore.Policy{Mode: credstore.PolicyConfirm}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("no desktop can ask", func(t *testing.T) {
		srv.SetCapabilities("body")
		n := len(srv.Calls())
		if _, err := look(); !errors.Is(err, credstore.ErrDenied) || !strings.Contains(err.Error(), "no desktop can ask") ||
			!strings.Contains(err.Error(), "torale-cred policy set default allow "+exe) {
			t.Fatalf("no desktop: %v", err)
		}
		if len(srv.Calls()) != n {
			t.Fatal("a server without actions was sent the question")
		}
	})

	for _, call := range srv.Calls() {
		if strings.Contains(call.Body+call.Title, "sk_") && strings.Contains(call.Body+call.Title, confirmKey) {
			t.Fatalf("a question shows the key: %+v", call)
		}
		if !strings.Contains(call.Body, exe) || !call.Offers("allow_once") || !call.Offers("deny") {
			t.Fatalf("question %+v does not name the program or offer the answers", call)
		}
	}
	// Every look-up is in the trail, refused ones as denied.
	var events []audit.Event
	within(t, "the trail's lines", func() error {
		var err error
		events, _, err = audit.Read(p.state.Dir, audit.Filter{})
		if err == nil && len(events) != 6 {
			err = errors.New("not 6 lines yet")
		}
		return err
	})
	want := []string{"denied", "denied", "ok", "ok", "ok", "denied"}
	for i, e := range events {
		if e.Result != want[i] || e.Door != credstore.DoorToken || e.Caller.Exe != exe || e.KeyHint != apikey.Hint(confirmKey) {
			t.Fatalf("line %d = %+v, want result %s", i, e, want[i])
		}
	}
	b, _ := os.ReadFile(p.state.Dir + "/" + audit.FileName)
	if strings.Contains(string(b), confirmKey) {
		t.Fatal("the trail holds the key")
	}
}
