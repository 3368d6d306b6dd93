package credstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/internal/audit"
	"github.com/torale-ai/torale-cred/internal/notify"
	"github.com/torale-ai/torale-cred/internal/peer"
)

const polKey = "sk_POLICYpolicyPOLICYpolicyPOLICY12345"

// mapKeys is a Source in memory: the policy's rules need no keychain.
type mapKeys struct {
	mu sync.Mutex
	m  map[string]string
}

func (k *mapKeys) Get(_ context.Context, p string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.m[p]
	if !ok {
		return "", storeerr.ErrNotFound
	}
	return v, nil
}
func (k *mapKeys) Set(_ context.Context, p, v string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.m[p] = v
	return nil
}
func (k *mapKeys) Delete(_ context.Context, p string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, p)
	return nil
}
func (k *mapKeys) Ping(context.Context) error { return nil }

type policyFixture struct {
	store  *Store
	mu     sync.Mutex
	events []audit.Event
	asked  int
}

func newPolicyFixture(t *testing.T, answer string, askErr error) *policyFixture {
	t.Helper()
	f := &policyFixture{}
	dir := t.TempDir()
	f.store = &Store{
		Keychain:    &mapKeys{m: map[string]string{DefaultProfile: polKey}},
		StateFile:   StateFile{Dir: filepath.Join(dir, "state")},
		ConfigPath:  filepath.Join(dir, "config.json"),
		ConfirmWait: time.Second,
		Audit: func(e audit.Event) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.events = append(f.events, e)
		},
		Ask: func(ctx context.Context, title, body string, choices []notify.Choice) (string, error) {
			f.mu.Lock()
			f.asked++
			f.mu.Unlock()
			if strings.Contains(body+title, "sk_") {
				t.Errorf("the question shows a key: %q", body)
			}
			return answer, askErr
		},
	}
	return f
}

var curl = &peer.Caller{PID: 42, UID: 1000, Exe: "/usr/bin/curl", Comm: "curl"}

func lookupAs(c *peer.Caller, door string) context.Context {
	ctx := context.Background()
	if c != nil {
		ctx = peer.With(ctx, c)
	}
	if door != "" {
		ctx = WithDoor(ctx, door)
	}
	return ctx
}

func TestPolicyDecides(t *testing.T) {
	other := &peer.Caller{PID: 43, Exe: "/usr/bin/python3", Comm: "python3"}
	nameless := &peer.Caller{PID: 44}
	cases := []struct {
		name       string
		policy     *Policy
		caller     *peer.Caller
		answer     string
		askErr     error
		wantDenied bool
		wantAsked  int
		wantInErr  string
	}{
		{name: "no policy is open", caller: other},
		{name: "open", policy: &Policy{Mode: PolicyOpen}, caller: other},
		{name: "allow listed", policy: &Policy{Mode: PolicyAllow, Allow: []string{"/usr/bin/curl"}}, caller: curl},
		{name: "allow unlisted", policy: &Policy{Mode: PolicyAllow, Allow: []string{"/usr/bin/curl"}}, caller: other,
			wantDenied: true, wantInErr: "torale-cred policy set default allow /usr/bin/curl /usr/bin/python3"},
		{name: "allow nameless", policy: &Policy{Mode: PolicyAllow, Allow: []string{"/usr/bin/curl"}}, caller: nameless, wantDenied: true},
		{name: "confirm listed asks nothing", policy: &Policy{Mode: PolicyConfirm, Allow: []string{"/usr/bin/curl"}}, caller: curl},
		{name: "confirm allow once", policy: &Policy{Mode: PolicyConfirm}, caller: other, answer: answerOnce, wantAsked: 1},
		{name: "confirm deny", policy: &Policy{Mode: PolicyConfirm}, caller: other, answer: answerDeny, wantAsked: 1, wantDenied: true, wantInErr: "you denied"},
		{name: "confirm no desktop", policy: &Policy{Mode: PolicyConfirm}, caller: other, askErr: notify.ErrNoDesktop, wantAsked: 1,
			wantDenied: true, wantInErr: "no desktop can ask"},
		{name: "confirm timeout", policy: &Policy{Mode: PolicyConfirm}, caller: other, askErr: notify.ErrNoAnswer, wantAsked: 1,
			wantDenied: true, wantInErr: "within 1s"},
		{name: "confirm nameless never asks", policy: &Policy{Mode: PolicyConfirm}, caller: nameless, wantDenied: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newPolicyFixture(t, tc.answer, tc.askErr)
			if tc.policy != nil {
				if err := f.store.SetPolicy(DefaultProfile, *tc.policy); err != nil {
					t.Fatal(err)
				}
			}
			for _, look := range []func() (Resolution, error){
				func() (Resolution, error) { return f.store.Resolve(lookupAs(tc.caller, DoorSocket), Request{}) },
				func() (Resolution, error) { return f.store.Stored(lookupAs(tc.caller, DoorGit), DefaultProfile) },
			} {
				r, err := look()
				if tc.wantDenied {
					if !errors.Is(err, ErrDenied) || r.Key != "" {
						t.Fatalf("got key %q, err %v; want denied", apikey.Hint(r.Key), err)
					}
					if !strings.Contains(err.Error(), tc.wantInErr) || strings.Contains(err.Error(), polKey) {
						t.Fatalf("error %q lacks %q (or shows the key)", err, tc.wantInErr)
					}
				} else if err != nil || r.Key != polKey {
					t.Fatalf("got key %q, err %v; want the key", apikey.Hint(r.Key), err)
				}
			}
			if f.asked != 2*tc.wantAsked {
				t.Fatalf("asked %d times, want %d", f.asked, 2*tc.wantAsked)
			}
			if len(f.events) != 2 {
				t.Fatalf("recorded %d events, want 2 (one a look-up)", len(f.events))
			}
			want := audit.ResultOK
			if tc.wantDenied {
				want = audit.ResultDenied
			}
			for i, door := range []string{DoorSocket, DoorGit} {
				e := f.events[i]
				if e.Result != want || e.Door != door || e.KeyHint != apikey.Hint(polKey) || e.Caller != tc.caller || e.Profile != DefaultProfile {
					t.Fatalf("event %d = %+v, want result %s door %s", i, e, want, door)
				}
			}
		})
	}
}

// A key the caller gave itself, and torale-cred's own checks (no door),
// are neither judged nor recorded: no key left torale-cred.
func TestHandOutOnlyThroughDoors(t *testing.T) {
	f := newPolicyFixture(t, "", nil)
	if err := f.store.SetPolicy(DefaultProfile, Policy{Mode: PolicyAllow, Allow: []string{"/nowhere"}}); err != nil {
		t.Fatal(err)
	}
	if r, err := f.store.Resolve(lookupAs(curl, DoorToken), Request{FlagKey: "sk_FLAGflagFLAGflagFLAGflagFLAGflag1"}); err != nil || r.KeySource != FromFlag {
		t.Fatalf("flag key: %+v %v", r, err)
	}
	if r, err := f.store.Resolve(lookupAs(curl, DoorToken), Request{Env: Env{APIKey: "sk_ENVenvENVenvENVenvENVenvENVenv12"}}); err != nil || r.KeySource != FromEnv {
		t.Fatalf("env key: %+v %v", r, err)
	}
	// An own check learns the hint, never the key.
	if r, err := f.store.Resolve(lookupAs(curl, ""), Request{}); err != nil || r.Key != "" || r.KeyHint != apikey.Hint(polKey) {
		t.Fatalf("own check: %+v %v", r, err)
	}
	if len(f.events) != 0 {
		t.Fatalf("recorded %+v, want nothing", f.events)
	}
	// rotate's own call to the API is judged like any door (it was exempt
	// before, so a denied caller's rotate sent the key where it pointed),
	// and recorded.
	if r, err := f.store.Stored(lookupAs(curl, DoorRotate), DefaultProfile); !errors.Is(err, ErrDenied) || r.Key != "" {
		t.Fatalf("rotate: %+v %v", r, err)
	}
	if len(f.events) != 1 || f.events[0].Door != DoorRotate || f.events[0].Result != audit.ResultDenied {
		t.Fatalf("rotate recorded %+v", f.events)
	}
}

// "Allow always" lists the executable, so the next look-up asks nothing;
// a burst from one program raises one question.
func TestConfirmAllowAlways(t *testing.T) {
	f := newPolicyFixture(t, answerAlways, nil)
	if err := f.store.SetPolicy(DefaultProfile, Policy{Mode: PolicyConfirm}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Resolve(lookupAs(curl, DoorSocket), Request{}); err != nil {
		t.Fatal(err)
	}
	st, err := f.store.StateFile.Load()
	if err != nil {
		t.Fatal(err)
	}
	if p := st.Policies[DefaultProfile]; p.Mode != PolicyConfirm || len(p.Allow) != 1 || p.Allow[0] != curl.Exe {
		t.Fatalf("policy after allow always = %+v", p)
	}
	for range 3 {
		if _, err := f.store.Resolve(lookupAs(curl, DoorSocket), Request{}); err != nil {
			t.Fatal(err)
		}
	}
	if f.asked != 1 {
		t.Fatalf("asked %d times, want 1", f.asked)
	}
}

func TestCheckPolicy(t *testing.T) {
	for _, p := range []Policy{{Mode: "allow"}, {Mode: "nope"}, {Mode: "allow", Allow: []string{"curl"}},
		{Mode: "allow", Allow: []string{"/a\nb"}}, {Mode: ""}} {
		if err := CheckPolicy(p); err == nil {
			t.Errorf("CheckPolicy(%+v) = nil, want an error", p)
		}
	}
	for _, p := range []Policy{{Mode: "open"}, {Mode: "confirm"}, {Mode: "allow", Allow: []string{"/usr/bin/git"}}} {
		if err := CheckPolicy(p); err != nil {
			t.Errorf("CheckPolicy(%+v) = %v", p, err)
		}
	}
}

// The policy survives logout: a new key keeps its old protection.
func TestPolicySurvivesDelete(t *testing.T) {
	f := newPolicyFixture(t, "", nil)
	if err := f.store.SetPolicy(DefaultProfile, Policy{Mode: PolicyAllow, Allow: []string{"/usr/bin/git"}}); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Delete(context.Background(), DefaultProfile); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Put(context.Background(), DefaultProfile, polKey, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Resolve(lookupAs(curl, DoorSocket), Request{}); !errors.Is(err, ErrDenied) {
		t.Fatalf("after logout and login: %v, want denied", err)
	}
}

// Names from /proc and state.json reach the desktop question and the
// refusal's sentence escaped: a program chooses its own path.
func TestPolicyTextIsEscaped(t *testing.T) {
	evil := &peer.Caller{PID: 45, Exe: "/tmp/x\r\x1b[2K/usr/bin/git\u202e", Comm: "x", Unit: "run-\x1b]0;t\a.service"}
	unsafe := func(s string) bool {
		return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == 0x202e })
	}
	f := newPolicyFixture(t, answerDeny, nil)
	var body string
	f.store.Ask = func(_ context.Context, _, b string, _ []notify.Choice) (string, error) {
		body = b
		return answerDeny, nil
	}
	if err := f.store.SetPolicy(DefaultProfile, Policy{Mode: PolicyConfirm}); err != nil {
		t.Fatal(err)
	}
	_, err := f.store.Resolve(lookupAs(evil, DoorSocket), Request{})
	if !errors.Is(err, ErrDenied) {
		t.Fatalf("err = %v, want denied", err)
	}
	if body == "" || unsafe(body) || !strings.Contains(body, `x (/tmp/x\r\x1b[2K/usr/bin/git\u202e, pid 45) in run-\x1b]0;t\a.service`) {
		t.Fatalf("question body = %q", body)
	}
	if unsafe(err.Error()) {
		t.Fatalf("refusal = %q", err)
	}
	if err := f.store.SetPolicy(DefaultProfile, Policy{Mode: PolicyAllow, Allow: []string{"/opt/\x1b[8mhidden"}}); err != nil {
		t.Fatal(err)
	}
	_, err = f.store.Resolve(lookupAs(evil, DoorSocket), Request{})
	if !errors.Is(err, ErrDenied) || unsafe(err.Error()) || !strings.Contains(err.Error(), `/opt/\x1b[8mhidden`) {
		t.Fatalf("refusal = %q", err)
	}
}

// A policy that cannot be read denies every hand-out of its profile, with
// a sentence naming state.json and the fix; it never falls back to open.
func TestUnreadablePolicyDenies(t *testing.T) {
	cases := []struct {
		name       string
		state      string // state.json as written by hand
		wantDenied bool
		wantInErr  string
	}{
		{"capitalised mode", `{"version":1,"profiles":{},"policies":{"default":{"mode":"Allow","allow":["/usr/bin/curl"]}}}`, true, `not "Allow"`},
		{"empty mode", `{"version":1,"profiles":{},"policies":{"default":{"allow":["/usr/bin/curl"]}}}`, true, "not valid"},
		{"allow with nobody", `{"version":1,"profiles":{},"policies":{"default":{"mode":"allow"}}}`, true, "at least one executable"},
		{"relative executable", `{"version":1,"profiles":{},"policies":{"default":{"mode":"allow","allow":["curl"]}}}`, true, "absolute"},
		{"policy not an object", `{"version":1,"profiles":{},"policies":{"default":"open"}}`, true, "cannot be read"},
		{"not JSON", `{"version":1,"policies":`, true, "cannot be read"},
		{"another profile's bad policy", `{"version":1,"profiles":{},"policies":{"work":{"mode":"Allow"}}}`, false, ""},
		{"valid allow", `{"version":1,"profiles":{},"policies":{"default":{"mode":"allow","allow":["/usr/bin/curl"]}}}`, false, ""},
		{"no policies", `{"version":1,"profiles":{}}`, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newPolicyFixture(t, answerOnce, nil)
			if err := os.MkdirAll(f.store.StateFile.Dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f.store.StateFile.Path(), []byte(tc.state), 0o600); err != nil {
				t.Fatal(err)
			}
			r, err := f.store.Resolve(lookupAs(curl, DoorSocket), Request{})
			if !tc.wantDenied {
				if err != nil || r.Key != polKey {
					t.Fatalf("got key %q, err %v; want the key", apikey.Hint(r.Key), err)
				}
				return
			}
			if !errors.Is(err, ErrDenied) || r.Key != "" {
				t.Fatalf("got key %q, err %v; want denied", apikey.Hint(r.Key), err)
			}
			msg := err.Error()
			for _, want := range []string{tc.wantInErr, "state.json", "torale-cred policy set default open|confirm|allow EXE..."} {
				if !strings.Contains(msg, want) {
					t.Fatalf("error %q lacks %q", msg, want)
				}
			}
			if f.asked != 0 || len(f.events) != 1 || f.events[0].Result != audit.ResultDenied {
				t.Fatalf("asked %d, events %+v; want no question and one denial on the trail", f.asked, f.events)
			}
		})
	}
}

// "Allow once" is for the process that asked: two processes running the
// same executable at the same time each get a question of their own, and
// each its own answer.
func TestConfirmAsksEachProcess(t *testing.T) {
	f := newPolicyFixture(t, "", nil)
	if err := f.store.SetPolicy(DefaultProfile, Policy{Mode: PolicyConfirm}); err != nil {
		t.Fatal(err)
	}
	first := &peer.Caller{PID: 101, UID: 1000, Exe: "/usr/bin/python3"}
	second := &peer.Caller{PID: 102, UID: 1000, Exe: "/usr/bin/python3"}
	var mu sync.Mutex
	var bodies []string
	both := make(chan struct{})
	f.store.ConfirmWait = 10 * time.Second
	f.store.Ask = func(ctx context.Context, _, body string, _ []notify.Choice) (string, error) {
		mu.Lock()
		bodies = append(bodies, body)
		if len(bodies) == 2 {
			close(both)
		}
		mu.Unlock()
		// Both questions are open at once before either is answered.
		select {
		case <-both:
		case <-ctx.Done():
			return "", notify.ErrNoAnswer
		}
		if strings.Contains(body, "(pid 101)") {
			return answerDeny, nil
		}
		return answerOnce, nil
	}
	type result struct {
		r   Resolution
		err error
	}
	results := make([]chan result, 2)
	for i, c := range []*peer.Caller{first, second} {
		results[i] = make(chan result, 1)
		go func() {
			r, err := f.store.Resolve(lookupAs(c, DoorSocket), Request{})
			results[i] <- result{r, err}
		}()
	}
	a, b := <-results[0], <-results[1]
	if len(bodies) != 2 {
		t.Fatalf("asked %d questions (%q), want one for each process", len(bodies), bodies)
	}
	if !errors.Is(a.err, ErrDenied) || a.r.Key != "" {
		t.Fatalf("pid 101, denied: got key %q, err %v", apikey.Hint(a.r.Key), a.err)
	}
	if b.err != nil || b.r.Key != polKey {
		t.Fatalf("pid 102, allowed once: got key %q, err %v", apikey.Hint(b.r.Key), b.err)
	}
}
