package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
)

// endpointRun is the local endpoint's figures (issue 26): the latency a
// request through it adds over the same request sent straight to the
// stand-in API, and its rate from concurrent clients.
type endpointRun struct {
	direct, via   stats
	added50       time.Duration // p50 of (via − direct), pair by pair
	added99       time.Duration
	tput, tputDir throughput
}

// standIn is a Torale API stand-in over https: GET /auth/me answers the
// documented shape when the Bearer key is the world's key, 401 otherwise.
func standIn(key string) *httptest.Server {
	return httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer "+key {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"detail":"Invalid API key"}`)
			return
		}
		_, _ = io.WriteString(w, `{"id":"u_bench","email":"bench@torale.invalid","state":"active"}`)
	}))
}

// startEndpointDaemon runs a second daemon, watching and serving the
// endpoint, in a world of its own: the key is written to config.json with
// the stand-in's URL as a user would, the daemon moves it and writes its
// local token and URL there, which the clients then use.
func startEndpointDaemon(ctx context.Context, w *world, api *httptest.Server) (url, token string, err error) {
	cert := filepath.Join(w.tmp, "stand-in.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: api.Certificate().Raw})
	if err := os.WriteFile(cert, pemBytes, 0o600); err != nil {
		return "", "", err
	}
	dir := filepath.Join(w.tmp, "home", ".torale")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", err
	}
	cfg := filepath.Join(dir, "config.json")
	raw, _ := json.Marshal(map[string]string{"api_key": w.key, "api_url": api.URL})
	if err := os.WriteFile(cfg, raw, 0o600); err != nil {
		return "", "", err
	}
	stderr, done, err := w.runDaemon(nil, "SSL_CERT_FILE="+cert)
	if err != nil {
		return "", "", err
	}
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		var c struct {
			Key string `json:"api_key"`
			URL string `json:"api_url"`
		}
		if b, rerr := os.ReadFile(cfg); rerr == nil && json.Unmarshal(b, &c) == nil && credstore.IsLocalToken(c.Key) && c.URL != api.URL {
			return c.URL, c.Key, nil
		}
		select {
		case <-done:
			return "", "", fmt.Errorf("the endpoint daemon exited: %s", firstLine(stderr.String()))
		default:
		}
		if time.Since(start) > 15*time.Second || ctx.Err() != nil {
			return "", "", errors.New("the daemon did not write its local token into config.json within 15 s")
		}
	}
}

// getter is one keep-alive https/http client asking GET /auth/me.
type getter struct {
	c   *http.Client
	req *http.Request
}

func newGetter(base, bearer string, api *httptest.Server) (*getter, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: 1, ForceAttemptHTTP2: false,
		TLSClientConfig: api.Client().Transport.(*http.Transport).TLSClientConfig.Clone()}
	tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{} // HTTP/1.1, as the SDK's httpx
	req, err := http.NewRequest(http.MethodGet, strings.TrimRight(base, "/")+"/auth/me", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	return &getter{c: &http.Client{Transport: tr, Timeout: 10 * time.Second}, req: req}, nil
}

func (g *getter) get() error {
	resp, err := g.c.Do(g.req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// measureEndpoint times n requests straight to the stand-in and n through
// the endpoint, taking turns on one keep-alive connection each, then the
// rate through it (and straight) from clients concurrent clients.
func measureEndpoint(ctx context.Context, bin string, n, clients, total int) (endpointRun, error) {
	var r endpointRun
	w, err := newWorld(bin)
	if w != nil {
		defer w.close()
	}
	if err != nil {
		return r, err
	}
	api := standIn(w.key)
	defer api.Close()
	url, token, err := startEndpointDaemon(ctx, w, api)
	if err != nil {
		return r, err
	}
	direct, err := newGetter(api.URL, w.key, api)
	if err != nil {
		return r, err
	}
	via, err := newGetter(url, token, api)
	if err != nil {
		return r, err
	}
	for range 200 { // warm both connections and the daemon's own to the stand-in
		if err := direct.get(); err != nil {
			return r, fmt.Errorf("straight to the stand-in: %w", err)
		}
		if err := via.get(); err != nil {
			return r, fmt.Errorf("through the endpoint: %w", err)
		}
	}
	dd, vd, added := make([]time.Duration, 0, n), make([]time.Duration, 0, n), make([]time.Duration, 0, n)
	for range n {
		t := time.Now()
		if err := direct.get(); err != nil {
			return r, err
		}
		a := time.Since(t)
		t = time.Now()
		if err := via.get(); err != nil {
			return r, err
		}
		b := time.Since(t)
		dd, vd, added = append(dd, a), append(vd, b), append(added, b-a)
	}
	r.direct, r.via = summarise(dd), summarise(vd)
	sa := summarise(added)
	r.added50, r.added99 = sa.p50, sa.p99
	if r.tputDir, err = getterThroughput(api.URL, w.key, api, clients, total); err != nil {
		return r, err
	}
	r.tput, err = getterThroughput(url, token, api, clients, total)
	return r, err
}

func getterThroughput(base, bearer string, api *httptest.Server, clients, total int) (throughput, error) {
	t := throughput{clients: clients, total: total}
	gs := make([]*getter, clients)
	for i := range gs {
		g, err := newGetter(base, bearer, api)
		if err != nil {
			return t, err
		}
		if err := g.get(); err != nil {
			return t, err
		}
		gs[i] = g
	}
	var left, errs atomic.Int64
	left.Store(int64(total))
	var wg sync.WaitGroup
	start := time.Now()
	for _, g := range gs {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				if g.get() != nil {
					errs.Add(1)
					return
				}
			}
		})
	}
	wg.Wait()
	t.elapsed, t.errs = time.Since(start), errs.Load()
	return t, nil
}
