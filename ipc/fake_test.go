package ipc_test

import (
	"context"
	"errors"
	"sort"
	"sync"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/apikey"
)

// fakeBackend is a credstore.Backend of the tests' own: keys in a map, and
// errors scripted per method, so the server's routes, status codes and
// wire shapes are tested without the real store (and without package
// daemon). It records what the server passed it, to prove the decoder's
// result reaches the Backend unchanged.
type fakeBackend struct {
	mu   sync.Mutex
	keys map[string]string // profile → key
	// errs, by method name ("Resolve", "Stored", "List", "Put", "Delete",
	// "Health"), is returned instead of an answer.
	errs map[string]error

	calls []string
	reqs  []credstore.Request
	puts  []fakePut
}

type fakePut struct {
	Profile, Key string
	Opts         credstore.PutOptions
}

var _ credstore.Backend = (*fakeBackend)(nil)

func newFake(keys map[string]string) *fakeBackend {
	if keys == nil {
		keys = map[string]string{}
	}
	return &fakeBackend{keys: keys, errs: map[string]error{}}
}

// fail scripts err for method (nil: answer again).
func (f *fakeBackend) fail(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.errs, method)
		return
	}
	f.errs[method] = err
}

// enter records the call and returns its scripted error; f.mu is held.
func (f *fakeBackend) enter(method string) error {
	f.calls = append(f.calls, method)
	return f.errs[method]
}

// lastRequest is the last request Resolve received.
func (f *fakeBackend) lastRequest() (credstore.Request, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		return credstore.Request{}, 0
	}
	return f.reqs[len(f.reqs)-1], len(f.reqs)
}

func (f *fakeBackend) lastPut() (fakePut, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.puts) == 0 {
		return fakePut{}, 0
	}
	return f.puts[len(f.puts)-1], len(f.puts)
}

// callCount is how many calls reached the Backend.
func (f *fakeBackend) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *fakeBackend) Resolve(_ context.Context, req credstore.Request) (credstore.Resolution, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, req)
	if err := f.enter("Resolve"); err != nil {
		return credstore.Resolution{}, err
	}
	p := req.Profile
	if p == "" {
		p = credstore.DefaultProfile
	}
	r := credstore.Resolution{Profile: p, URL: credstore.DefaultAPIURL, URLSource: credstore.FromDefault, NoAuth: req.Env.NoAuth == "1"}
	switch {
	case req.FlagKey != "":
		r.Key, r.KeySource = req.FlagKey, credstore.FromFlag
	case req.Env.APIKey != "":
		r.Key, r.KeySource = req.Env.APIKey, credstore.FromEnv
	case f.keys[p] != "":
		r.Key, r.KeySource = f.keys[p], credstore.FromKeychain
	case r.NoAuth:
		r.KeySource = credstore.FromNone
	default:
		return credstore.Resolution{}, &credstore.NoKeyError{Profile: p}
	}
	return r, nil
}

func (f *fakeBackend) Stored(_ context.Context, profile string) (credstore.Resolution, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter("Stored"); err != nil {
		return credstore.Resolution{}, err
	}
	k, ok := f.keys[profile]
	if !ok {
		return credstore.Resolution{}, &credstore.NoKeyError{Profile: profile}
	}
	return credstore.Resolution{Profile: profile, Key: k, KeySource: credstore.FromKeychain,
		URL: credstore.DefaultAPIURL, URLSource: credstore.FromDefault}, nil
}

func (f *fakeBackend) List(context.Context) ([]credstore.ProfileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter("List"); err != nil {
		return nil, err
	}
	var out []credstore.ProfileInfo
	for p, k := range f.keys {
		out = append(out, credstore.ProfileInfo{Name: p, Profile: credstore.Profile{KeyHint: apikey.Hint(k), Source: credstore.SourceLogin}})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *fakeBackend) Put(_ context.Context, profile, key string, o credstore.PutOptions) (credstore.ProfileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.puts = append(f.puts, fakePut{profile, key, o})
	if err := f.enter("Put"); err != nil {
		return credstore.ProfileInfo{}, err
	}
	f.keys[profile] = key
	src := o.Source
	if src == "" {
		src = credstore.SourceLogin
	}
	return credstore.ProfileInfo{Name: profile, Profile: credstore.Profile{KeyHint: apikey.Hint(key), Source: src, KeyID: o.KeyID, CreatedAt: o.CreatedAt, APIURL: o.APIURL}}, nil
}

func (f *fakeBackend) Delete(_ context.Context, profile string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter("Delete"); err != nil {
		return err
	}
	if _, ok := f.keys[profile]; !ok {
		return &credstore.NoKeyError{Profile: profile}
	}
	delete(f.keys, profile)
	return nil
}

func (f *fakeBackend) Health(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.enter("Health")
}

// errInternal is an error no sentinel matches: the server's 500.
var errInternal = errors.New("the fake backend broke")
