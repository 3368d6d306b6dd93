package vaultkv

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
)

// The few Vault HTTP API calls this package makes, over net/http. Vault's
// official client (github.com/hashicorp/vault/api) did the same with
// 300 KB and 3,400 allocations of package initialisation in every
// torale-cred command, Vault profile or not (measured with
// GODEBUG=inittrace=1: 2 ms, plus go-sockaddr's 0.45 ms): one program
// starts for every look-up, so the calls are written here instead. The
// tests still drive a real Vault with the official client.

// apiError is an HTTP error answer: its status and Vault's "errors".
type apiError struct {
	StatusCode int
	Errors     []string
}

func (e *apiError) Error() string {
	d := fmt.Sprintf("%d", e.StatusCode)
	if len(e.Errors) > 0 {
		d += " " + strings.Join(e.Errors, "; ")
	}
	return d
}

// errSecretNotFound: the KV v2 engine has no such secret (404, no data).
var errSecretNotFound = errors.New("secret not found")

// maxAnswer bounds a Vault answer read into memory.
const maxAnswer = 1 << 20

// httpAPI is one Vault address with the token in use.
type httpAPI struct {
	addr string
	hc   *http.Client

	mu    sync.Mutex
	token string
}

func newHTTPAPI(cfg Config) (*httpAPI, error) {
	u, err := url.Parse(cfg.Addr)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%q is not a Vault address (https://host:8200)", cfg.Addr)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.CACert != "" {
		pem, err := os.ReadFile(cfg.CACert)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", cfg.CACert)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &httpAPI{addr: strings.TrimRight(cfg.Addr, "/"), hc: &http.Client{Transport: tr, Timeout: cfg.Timeout}}, nil
}

func (a *httpAPI) setToken(t string) { a.mu.Lock(); a.token = t; a.mu.Unlock() }

// call sends method /v1/path with body as JSON (nil: none) and decodes the
// answer into out (nil: ignored). An HTTP error is an *apiError, and the
// answer is still decoded into out when it is JSON (a deleted version's
// 404 carries its metadata).
func (a *httpAPI) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.addr+"/v1/"+path, rd)
	if err != nil {
		return err
	}
	a.mu.Lock()
	tok := a.token
	a.mu.Unlock()
	if tok != "" {
		req.Header.Set("X-Vault-Token", tok)
	}
	req.Header.Set("X-Vault-Request", "true")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return err
	}
	if out != nil && len(raw) > 0 {
		_ = json.Unmarshal(raw, out) // an error answer's shape is checked below
	}
	if resp.StatusCode >= 400 {
		var e struct {
			Errors []string `json:"errors"`
		}
		_ = json.Unmarshal(raw, &e)
		return &apiError{StatusCode: resp.StatusCode, Errors: e.Errors}
	}
	return nil
}

// authAnswer is a login's or renewal's "auth".
type authAnswer struct {
	Auth *struct {
		ClientToken   string `json:"client_token"`
		LeaseDuration int    `json:"lease_duration"`
		Renewable     bool   `json:"renewable"`
	} `json:"auth"`
}

// lookupSelf is the token's TTL and whether it renews.
func (a *httpAPI) lookupSelf(ctx context.Context) (ttlSeconds int64, renewable bool, err error) {
	var out struct {
		Data struct {
			TTL       json.Number `json:"ttl"`
			Renewable bool        `json:"renewable"`
		} `json:"data"`
	}
	if err := a.call(ctx, http.MethodGet, "auth/token/lookup-self", nil, &out); err != nil {
		return 0, false, err
	}
	ttl, _ := out.Data.TTL.Int64()
	return ttl, out.Data.Renewable, nil
}

// kvSecret is a KV v2 read: the version's data and number.
type kvSecret struct {
	Data    map[string]any
	Version int
}

func kvPath(mount, kind, path string) string {
	return strings.Trim(mount, "/") + "/" + kind + "/" + strings.TrimLeft(path, "/")
}

func (a *httpAPI) kvGet(ctx context.Context, mount, path string) (*kvSecret, error) {
	var out struct {
		Data *struct {
			Data     map[string]any `json:"data"`
			Metadata struct {
				Version int `json:"version"`
			} `json:"metadata"`
		} `json:"data"`
	}
	err := a.call(ctx, http.MethodGet, kvPath(mount, "data", path), nil, &out)
	var ae *apiError
	if errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound {
		if out.Data == nil || out.Data.Metadata.Version == 0 {
			return nil, errSecretNotFound
		}
		return &kvSecret{Version: out.Data.Metadata.Version}, nil // a deleted version: no data
	}
	if err != nil {
		return nil, err
	}
	if out.Data == nil {
		return nil, errSecretNotFound
	}
	return &kvSecret{Data: out.Data.Data, Version: out.Data.Metadata.Version}, nil
}

func (a *httpAPI) kvCurrentVersion(ctx context.Context, mount, path string) (int, error) {
	var out struct {
		Data *struct {
			CurrentVersion int `json:"current_version"`
		} `json:"data"`
	}
	err := a.call(ctx, http.MethodGet, kvPath(mount, "metadata", path), nil, &out)
	var ae *apiError
	if errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound {
		return 0, errSecretNotFound
	}
	if err != nil {
		return 0, err
	}
	if out.Data == nil {
		return 0, errSecretNotFound
	}
	return out.Data.CurrentVersion, nil
}

// kvPut writes data as a new version; cas < 0 sends no check-and-set.
func (a *httpAPI) kvPut(ctx context.Context, mount, path string, data map[string]any, cas int) (int, error) {
	body := map[string]any{"data": data}
	if cas >= 0 {
		body["options"] = map[string]any{"cas": cas}
	}
	var out struct {
		Data struct {
			Version int `json:"version"`
		} `json:"data"`
	}
	if err := a.call(ctx, http.MethodPost, kvPath(mount, "data", path), body, &out); err != nil {
		return 0, err
	}
	return out.Data.Version, nil
}

// sealed asks sys/health, every state answered 200 so the body says.
func (a *httpAPI) sealed(ctx context.Context) (bool, error) {
	var out struct {
		Sealed bool `json:"sealed"`
	}
	err := a.call(ctx, http.MethodGet, "sys/health?standbyok=true&perfstandbyok=true&sealedcode=299&uninitcode=299&drsecondarycode=299&performancestandbycode=299", nil, &out)
	return out.Sealed, err
}

func (a *httpAPI) capabilitiesSelf(ctx context.Context, path string) ([]string, error) {
	var out map[string]any
	if err := a.call(ctx, http.MethodPost, "sys/capabilities-self", map[string]any{"paths": []string{path}}, &out); err != nil {
		return nil, err
	}
	pick := func(v any) []string {
		var caps []string
		if l, ok := v.([]any); ok {
			for _, c := range l {
				if s, ok := c.(string); ok {
					caps = append(caps, s)
				}
			}
		}
		return caps
	}
	if c := pick(out[path]); c != nil {
		return c, nil
	}
	if d, ok := out["data"].(map[string]any); ok {
		if c := pick(d[path]); c != nil {
			return c, nil
		}
		return pick(d["capabilities"]), nil
	}
	return pick(out["capabilities"]), nil
}
