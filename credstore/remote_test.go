package credstore

import (
	"context"
	"errors"
	"testing"

	"github.com/torale-ai/torale-cred/internal/peer"
)

// A forwarded use is judged by the profile's remote rule, not by the
// executable (our ssh client): allow, deny, and confirm asked once per
// session and profile; each use is in the trail with its destination.
func TestRemoteRule(t *testing.T) {
	ssh := &peer.Caller{PID: 4242, UID: 1000, Exe: "/usr/bin/ssh", Comm: "ssh", Forwarded: true}
	use := func(f *policyFixture, u *RemoteUse) error {
		ctx := WithRemote(WithDoor(peer.With(context.Background(), ssh), DoorRemote), u)
		_, err := f.store.Stored(ctx, DefaultProfile)
		return err
	}
	t.Run("default follows the mode", func(t *testing.T) {
		if r := (Policy{Mode: PolicyOpen}).RemoteRule(); r != RemoteAllow {
			t.Errorf("open: %s", r)
		}
		if r := (Policy{Mode: PolicyAllow, Allow: []string{"/x"}}).RemoteRule(); r != RemoteConfirm {
			t.Errorf("allow: %s", r)
		}
	})
	t.Run("allow records the destination", func(t *testing.T) {
		f := newPolicyFixture(t, "", nil)
		// An allow list that does not name ssh: the remote rule decides.
		if err := f.store.SetPolicy(DefaultProfile, Policy{Mode: PolicyAllow, Allow: []string{"/usr/bin/python3"}}); err != nil {
			t.Fatal(err)
		}
		if err := f.store.SetRemoteRule(DefaultProfile, RemoteAllow); err != nil {
			t.Fatal(err)
		}
		if err := use(f, &RemoteUse{Session: "s1", Dest: "bob@devbox"}); err != nil {
			t.Fatal(err)
		}
		if len(f.events) != 1 || f.events[0].Remote != "bob@devbox" || f.events[0].Door != DoorRemote || f.events[0].Result != "ok" {
			t.Fatalf("trail: %+v", f.events)
		}
	})
	t.Run("deny", func(t *testing.T) {
		f := newPolicyFixture(t, "", nil)
		if err := f.store.SetRemoteRule(DefaultProfile, RemoteDeny); err != nil {
			t.Fatal(err)
		}
		u := &RemoteUse{Session: "s1", Dest: "devbox"}
		if err := use(f, u); !errors.Is(err, ErrDenied) {
			t.Fatalf("use: %v", err)
		}
		if err := f.store.OpenSession(context.Background(), u, []string{DefaultProfile}); !errors.Is(err, ErrDenied) {
			t.Fatalf("open: %v", err)
		}
		if last := f.events[len(f.events)-1]; last.Door != DoorSSH || last.Action != ActionSession || last.Result != "denied" || last.Remote != "devbox" {
			t.Fatalf("trail: %+v", last)
		}
	})
	t.Run("confirm asks once per session", func(t *testing.T) {
		f := newPolicyFixture(t, answerOnce, nil)
		if err := f.store.SetRemoteRule(DefaultProfile, RemoteConfirm); err != nil {
			t.Fatal(err)
		}
		u := &RemoteUse{Session: "s1", Dest: "devbox"}
		for range 3 {
			if err := use(f, u); err != nil {
				t.Fatal(err)
			}
		}
		if f.asked != 1 {
			t.Fatalf("asked %d times in one session, want 1", f.asked)
		}
		if err := use(f, &RemoteUse{Session: "s2", Dest: "devbox"}); err != nil || f.asked != 2 {
			t.Fatalf("a second session: %v, asked %d, want a question of its own", err, f.asked)
		}
	})
	t.Run("confirm denied stays denied for the session", func(t *testing.T) {
		f := newPolicyFixture(t, answerDeny, nil)
		if err := f.store.SetRemoteRule(DefaultProfile, RemoteConfirm); err != nil {
			t.Fatal(err)
		}
		u := &RemoteUse{Session: "s1", Dest: "devbox"}
		for range 2 {
			if err := use(f, u); !errors.Is(err, ErrDenied) {
				t.Fatal(err)
			}
		}
		if f.asked != 1 {
			t.Fatalf("asked %d times, want 1", f.asked)
		}
	})
	t.Run("policy set keeps the remote rule", func(t *testing.T) {
		f := newPolicyFixture(t, "", nil)
		if err := f.store.SetRemoteRule(DefaultProfile, RemoteDeny); err != nil {
			t.Fatal(err)
		}
		if err := f.store.SetPolicy(DefaultProfile, Policy{Mode: PolicyOpen}); err != nil {
			t.Fatal(err)
		}
		st, _ := f.store.StateFile.Load()
		if st.Policies[DefaultProfile].Remote != RemoteDeny {
			t.Fatalf("policies: %+v", st.Policies)
		}
	})
}
