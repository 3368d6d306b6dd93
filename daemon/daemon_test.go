package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/ipc"
)

// inProcess is a daemon running in this process over an in-memory
// keychain, a config.json and a state directory of the test's own.
type inProcess struct {
	d     *Daemon
	cfg   string
	state credstore.StateFile
	sock  string
	log   *lockedBuffer
}

func startInProcess(t *testing.T, config string, opts ...func(*Config)) *inProcess {
	t.Helper()
	home := t.TempDir()
	p := &inProcess{cfg: filepath.Join(home, ".torale", "config.json"),
		state: credstore.StateFile{Dir: filepath.Join(home, "state")},
		sock:  filepath.Join(home, "d.sock"), log: &lockedBuffer{}}
	writeFile(t, p.cfg, config)
	l, err := net.Listen("unix", p.sock)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Keychain:   keychain.New(keychain.WithKeyring(newMemKeyring(map[string]string{}))),
		ConfigPath: p.cfg,
		StateDir:   p.state.Dir,
		Migrate:    true,
		Logger:     slog.New(slog.NewTextHandler(p.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Listener:   l,
		NoHarden:   true,
	}
	for _, o := range opts {
		o(&cfg)
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.d = d
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(patience):
			t.Error("Run did not return after cancel")
		}
	})
	return p
}

// patience bounds every wait of these tests for something to happen:
// long enough for any loaded machine, it only turns a hang into a
// failure. No test asserts how fast anything ran.
const patience = 30 * time.Second

// within polls fn until it succeeds, failing t after patience.
func within(t *testing.T, what string, fn func() error) {
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
		time.Sleep(5 * time.Millisecond)
	}
}

// config.json's api_url is config.json's: while it names an http URL,
// every answer names that URL (from "config"), the migration that moved
// the key beside it records no URL for the profile, and once config.json
// stops naming it the answer is the default, https://api.torale.ai, from
// "default", in the Store and over the socket alike: no stale URL
// survives in the daemon's memory.
func TestDaemonForgetsConfigURLOnceRemoved(t *testing.T) {
	t.Parallel()
	const devURL = "http://127.0.0.1:8123"
	p := startInProcess(t, `{"api_key": "`+cacheKey1+`", "api_url": "`+devURL+`", "other": 1}`)
	ctx := context.Background()
	store := p.d.Store()
	c := ipc.NewClient(p.sock, patience)
	defer c.Close()
	answer := func(wantURL, wantSource string) func() error {
		return func() error {
			for door, b := range map[string]credstore.Backend{"store": store, "socket": c} {
				r, err := b.Resolve(credstore.WithDoor(ctx, credstore.DoorToken), credstore.Request{Profile: "default"})
				if err != nil {
					return fmt.Errorf("%s: %v", door, err)
				}
				if r.Key != cacheKey1 || r.KeySource != credstore.FromKeychain || r.URL != wantURL || r.URLSource != wantSource {
					return fmt.Errorf("%s: key %s from %s, URL %s from %s; want the moved key from keychain, %s from %s",
						door, apikey.Hint(r.Key), r.KeySource, r.URL, r.URLSource, wantURL, wantSource)
				}
				s, err := b.Stored(credstore.WithDoor(ctx, credstore.DoorToken), "default")
				if err != nil || s.URL != wantURL || s.URLSource != wantSource {
					return fmt.Errorf("%s: stored tier's URL %s from %s (%v), want %s from %s", door, s.URL, s.URLSource, err, wantURL, wantSource)
				}
			}
			return nil
		}
	}
	within(t, "the migration finished", func() error {
		b, err := os.ReadFile(p.cfg)
		if err != nil || strings.Contains(string(b), "api_key") || !strings.Contains(string(b), devURL) {
			return fmt.Errorf("config.json = %q (%v)", b, err)
		}
		st, err := p.state.Load()
		if err != nil || st.Profiles["default"] == nil || st.Profiles["default"].Source != credstore.SourceConfig {
			return fmt.Errorf("state.json: %+v, %v", st, err)
		}
		if u := st.Profiles["default"].APIURL; u != nil {
			t.Fatalf("the migration recorded config.json's api_url %q as the profile's URL", *u)
		}
		return nil
	})
	within(t, "config.json's URL answered", answer(devURL, credstore.FromConfig))

	writeFile(t, p.cfg, `{"other": 1}`)
	within(t, "config.json's URL gone", answer(credstore.DefaultAPIURL, credstore.FromDefault))

	// state.json written by another program (a CLI that did not use the
	// daemon): the daemon sees it once its watcher reloads.
	if err := p.state.Update(func(s *credstore.State) error {
		s.Profiles["ci"] = &credstore.Profile{KeyHint: "sk_...CCCCC", StoredAt: time.Now().UTC(), Source: credstore.SourceLogin}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	within(t, "another program's state.json", func() error {
		list, err := store.List(ctx)
		if err != nil {
			return err
		}
		for _, pi := range list {
			if pi.Name == "ci" {
				return nil
			}
		}
		return fmt.Errorf("profiles %+v lack ci", list)
	})
}
