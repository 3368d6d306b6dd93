package toraleapi_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/internal/toraleapi"
	"github.com/torale-ai/torale-cred/internal/toraleapi/fakeapi"
)

var modes = []fakeapi.Mode{fakeapi.Documented, fakeapi.Live}

func TestKeyLifecycleBothShapes(t *testing.T) {
	for _, m := range modes {
		t.Run(m.String(), func(t *testing.T) {
			ctx := context.Background()
			api := fakeapi.New(t, m)
			created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			old, oldID := api.AddKey("CLI Key", created)
			c := toraleapi.New(api.URL, old)

			u, err := c.Me(ctx)
			if err != nil || u.Email != fakeapi.UserEmail {
				t.Fatalf("Me = %+v, %v", u, err)
			}
			list, err := c.ListKeys(ctx)
			if err != nil {
				t.Fatal(err)
			}
			rec, ok := toraleapi.FindKey(list, old)
			if !ok {
				t.Fatalf("FindKey found no record for the key among %+v", list)
			}
			if rec.ID != oldID || rec.Name != "CLI Key" || !rec.Active || rec.CreatedAt == nil || !rec.CreatedAt.Equal(created) {
				t.Fatalf("record = %+v (created %v), want id %s, active, created %v", rec, rec.CreatedAt, oldID, created)
			}
			if m == fakeapi.Live && rec.UserID != fakeapi.UserID {
				t.Errorf("live record lost user_id: %+v", rec)
			}

			if m == fakeapi.Live {
				_, err := c.CreateKey(ctx, "second")
				if !errors.Is(err, toraleapi.ErrOneActiveKey) {
					t.Fatalf("live second create: %v, want ErrOneActiveKey", err)
				}
				if err := c.RevokeKey(ctx, oldID); err != nil {
					t.Fatal(err)
				}
				if api.Active(old) {
					t.Fatal("revoked key still active")
				}
				// The revoked key can no longer do anything.
				if _, err := c.ListKeys(ctx); !errors.Is(err, toraleapi.ErrUnauthorized) {
					t.Fatalf("list with revoked key: %v, want ErrUnauthorized", err)
				}
				return
			}

			nk, err := c.CreateKey(ctx, "CLI Key 2")
			if err != nil {
				t.Fatal(err)
			}
			if !apikey.Valid(nk.Key) || nk.Record.ID == "" || nk.Record.CreatedAt == nil || nk.Record.Name != "CLI Key 2" {
				t.Fatalf("new key record = %+v", nk.Record)
			}
			if !apikey.MatchesServerPrefix(nk.Key, nk.Record.KeyPrefix) {
				t.Fatalf("new key prefix %q does not name the key", nk.Record.KeyPrefix)
			}
			if err := c.RevokeKey(ctx, oldID); err != nil {
				t.Fatal(err)
			}
			list, err = toraleapi.New(api.URL, nk.Key).ListKeys(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rec, _ := toraleapi.FindKey(list, old); rec.Active {
				t.Fatalf("old key still listed active: %+v", rec)
			}
			if err := c.RevokeKey(ctx, "nope"); err == nil {
				t.Fatal("revoking with a revoked key succeeded")
			}
		})
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	api := fakeapi.New(t, fakeapi.Documented)
	key, _ := api.AddKey("k", time.Now())
	c := toraleapi.New(api.URL, key)

	t.Run("401", func(t *testing.T) {
		_, err := toraleapi.New(api.URL, "sk_"+strings.Repeat("x", 32)).Me(ctx)
		if !errors.Is(err, toraleapi.ErrUnauthorized) || !strings.Contains(err.Error(), "Invalid API key") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("429 from the rate limit", func(t *testing.T) {
		for i := range 3 {
			if _, err := c.CreateKey(ctx, "n"); err != nil {
				t.Fatalf("create %d: %v", i, err)
			}
		}
		_, err := c.CreateKey(ctx, "n")
		var ae *toraleapi.APIError
		if !errors.Is(err, toraleapi.ErrRateLimited) || !errors.As(err, &ae) {
			t.Fatalf("4th create: %v", err)
		}
		if ae.RetryAfter < time.Second || ae.RetryAfter > time.Minute {
			t.Fatalf("RetryAfter = %v", ae.RetryAfter)
		}
		if !strings.Contains(err.Error(), "retry after") {
			t.Fatalf("message lacks the wait: %v", err)
		}
	})
	t.Run("5xx", func(t *testing.T) {
		api.Inject(fakeapi.Fault{Path: "/auth/me", Status: 503, Detail: "maintenance"})
		_, err := c.Me(ctx)
		if !errors.Is(err, toraleapi.ErrServer) || errors.Is(err, toraleapi.ErrUnauthorized) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		api.Inject(fakeapi.Fault{Path: "/auth/me", Delay: 2 * time.Second})
		tc := toraleapi.New(api.URL, key)
		tc.HTTP.Timeout = 200 * time.Millisecond
		_, err := tc.Me(ctx)
		if !errors.Is(err, toraleapi.ErrUnreachable) || !strings.Contains(err.Error(), "did not answer in time") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("hangup", func(t *testing.T) {
		api.Inject(fakeapi.Fault{Path: "/auth/me", Hangup: true})
		_, err := c.Me(ctx)
		if !errors.Is(err, toraleapi.ErrUnreachable) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		_, err = toraleapi.New("http://"+addr, key).Me(ctx)
		if !errors.Is(err, toraleapi.ErrUnreachable) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no key in errors", func(t *testing.T) {
		api.Inject(fakeapi.Fault{Status: 500})
		_, err := c.ListKeys(ctx)
		if err == nil || strings.Contains(err.Error(), key) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestUserAgent(t *testing.T) {
	var ua string
	srv := http.Server{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ua = r.Header.Get("User-Agent")
		w.Write([]byte(`{"id":"u"}`))
	})
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	if _, err := toraleapi.New("http://"+l.Addr().String(), "k").Me(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ua, "torale-cred/") {
		t.Fatalf("User-Agent = %q", ua)
	}
}

func TestFindKeyPrefersActiveNewest(t *testing.T) {
	key := "sk_abcdefghijklmnopqrstuvwxyz0123456789"
	t1 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	t2 := t1.Add(time.Hour)
	recs := []toraleapi.KeyRecord{
		{ID: "revoked", KeyPrefix: apikey.Hint(key), Active: false, CreatedAt: &t2},
		{ID: "other", KeyPrefix: "sk_...zzzzz", Active: true},
		{ID: "old", KeyPrefix: key[:15] + "...", Active: true, CreatedAt: &t1},
		{ID: "new", KeyPrefix: key[:15] + "...", Active: true, CreatedAt: &t2},
	}
	if r, ok := toraleapi.FindKey(recs, key); !ok || r.ID != "new" {
		t.Fatalf("FindKey = %+v, %v", r, ok)
	}
	if _, ok := toraleapi.FindKey(recs[1:2], key); ok {
		t.Fatal("matched another key's prefix")
	}
}
