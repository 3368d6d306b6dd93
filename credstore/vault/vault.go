// Package vault is the Vault store: a profile's key kept as a KV version 2
// secret in HashiCorp Vault or OpenBao (internal/vaultkv is the client).
// Spec is what state.json records of it (addresses and file names, never a
// token or a key), Config adds Vault's environment conventions, Source
// reads and writes the secret. It never writes a key to disk.
package vault

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/internal/vaultkv"
)

// Spec is a KV version 2 secret in HashiCorp Vault or OpenBao and how
// to log in to it. VAULT_TOKEN is never recorded: it is read from the
// environment of the process that reads the secret.
type Spec struct {
	Addr   string `json:"addr"`
	Mount  string `json:"mount"`
	Path   string `json:"path"`
	Field  string `json:"field,omitempty"`
	CACert string `json:"ca_cert,omitempty"`
	// TokenFile holds a token (Vault Agent's sink, ~/.vault-token).
	TokenFile string `json:"token_file,omitempty"`
	// RoleIDFile and SecretIDFile log in with AppRole at AppRoleMount.
	RoleIDFile   string `json:"approle_role_id_file,omitempty"`
	SecretIDFile string `json:"approle_secret_id_file,omitempty"`
	AppRoleMount string `json:"approle_mount,omitempty"`
}

// Where names the secret for status lines and errors: "vault
// secret/torale/p at https://…".
func (v Spec) Where() string { return "vault " + v.Mount + "/" + v.Path + " at " + v.Addr }

// Config is spec's client configuration, with Vault's environment
// conventions: VAULT_ADDR and VAULT_CACERT when the spec names none,
// VAULT_TOKEN when no token file or AppRole is named, else ~/.vault-token.
func Config(v Spec, getenv func(string) string) vaultkv.Config {
	c := vaultkv.Config{Addr: v.Addr, CACert: v.CACert, Mount: v.Mount, Path: v.Path, Field: v.Field,
		TokenFile: v.TokenFile, RoleIDFile: v.RoleIDFile, SecretIDFile: v.SecretIDFile, AppRoleMount: v.AppRoleMount}
	if c.Addr == "" {
		c.Addr = getenv("VAULT_ADDR")
	}
	if c.CACert == "" {
		c.CACert = getenv("VAULT_CACERT")
	}
	if c.TokenFile == "" && c.RoleIDFile == "" {
		c.Token = getenv("VAULT_TOKEN")
		if c.Token == "" {
			if home := getenv("HOME"); home != "" {
				if fi, err := os.Stat(filepath.Join(home, ".vault-token")); err == nil && fi.Mode().IsRegular() {
					c.TokenFile = filepath.Join(home, ".vault-token")
				}
			}
		}
	}
	return c
}

// Source is the Vault secret as a credstore.Source: it reads the secret on
// every Get (a command answering itself; the daemon follows it instead).
type Source struct {
	C *vaultkv.Client
	// Wrote is told every version this Source wrote (the daemon's
	// follower serves it at once).
	Wrote func(vaultkv.Secret)
}

func (v *Source) GetVersion(ctx context.Context, profile string) (string, int, error) {
	s, err := v.C.Read(ctx)
	if err != nil {
		return "", 0, &storeerr.StoreError{Profile: profile, Err: err}
	}
	return s.Key, s.Version, nil
}

func (v *Source) Get(ctx context.Context, profile string) (string, error) {
	k, _, err := v.GetVersion(ctx, profile)
	return k, err
}

// Set writes key as the secret's new version.
func (v *Source) Set(ctx context.Context, profile, key string) error {
	ver, err := v.C.Write(ctx, key)
	if errors.Is(err, vaultkv.ErrDenied) {
		cfg := v.C.Config()
		return &storeerr.StoreError{Profile: profile, Err: fmt.Errorf("%w; this machine's Vault login may only read the key: write it from a login whose policy allows create and update on %s (vault kv put -mount=%s %s api_key=-)",
			err, cfg.DataPath(), cfg.Mount, cfg.Path)}
	}
	if err != nil {
		return &storeerr.StoreError{Profile: profile, Err: err}
	}
	if v.Wrote != nil {
		v.Wrote(vaultkv.Secret{Key: key, Version: ver})
	}
	return nil
}

func (v *Source) Delete(_ context.Context, profile string) error {
	cfg := v.C.Config()
	return storeerr.NotDeleted(profile, Spec{Addr: cfg.Addr, Mount: cfg.Mount, Path: cfg.Path}.Where())
}

func (v *Source) Ping(ctx context.Context) error { return v.C.Ping(ctx) }
