// Package vaulttest runs a real HashiCorp Vault dev server on a loopback
// port for the Vault store's tests, from the binary .ci/vault builds
// (TORALE_CRED_VAULT_BIN). Tests skip with the way to get one where it is
// absent, and fail when CI=true. Only tests import it.
package vaulttest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"
)

// BinEnv names the Vault server binary.
const BinEnv = "TORALE_CRED_VAULT_BIN"

// RootToken is the dev server's root token (a test value, not a secret).
const RootToken = "torale-test-root"

// Bin is the Vault binary, or skips t (fails under CI=true) when none.
func Bin(t testing.TB) string {
	t.Helper()
	bin := os.Getenv(BinEnv)
	if bin == "none" {
		t.Skip(BinEnv + "=none: make test runs these tests in make test-vault, against a real Vault server")
	}
	if bin == "" {
		msg := BinEnv + " is not set: these tests need a real Vault server; run `make test-vault`, which builds one once with .ci/vault (MPL-2.0 release, cached) and sets it"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if fi, err := os.Stat(bin); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("%s=%s is not an executable Vault binary: %v", BinEnv, bin, err)
	}
	return bin
}

// Server is one dev server; Stop and Start keep its address (a dev
// server keeps its data in memory: a restarted one starts empty).
type Server struct {
	t    testing.TB
	bin  string
	Addr string
	home string

	mu        sync.Mutex
	cmd       *exec.Cmd
	done      chan struct{}
	logMu     sync.Mutex // apart from mu: Start waits holding mu while the log fills
	log       *bytes.Buffer
	UnsealKey string
	// Root is a client with the root token.
	Root *vault.Client
}

// Start runs a dev server on a free loopback port; it stops at cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, bin: Bin(t), home: t.TempDir()}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = "http://" + l.Addr().String()
	l.Close()
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start (re)starts the server on its address and waits until it answers.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	hostPort := strings.TrimPrefix(s.Addr, "http://")
	cmd := exec.Command(s.bin, "server", "-dev", "-dev-root-token-id="+RootToken, "-dev-listen-address="+hostPort, "-dev-no-store-token")
	// Its own HOME: the dev server must not write ~/.vault-token in the
	// tests' HOME (scanned for keys) or the user's.
	cmd.Env = append(os.Environ(), "HOME="+s.home, "VAULT_ADDR=", "VAULT_TOKEN=", "SKIP_SETCAP=1")
	cmd.Dir = s.home
	s.logMu.Lock()
	s.log = &bytes.Buffer{}
	s.logMu.Unlock()
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("starting Vault: %v", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	unseal := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			if k, ok := strings.CutPrefix(strings.TrimSpace(line), "Unseal Key: "); ok {
				select {
				case unseal <- k:
				default:
				}
			}
			s.logMu.Lock()
			if s.log.Len() < 1<<20 {
				s.log.WriteString(line + "\n")
			}
			s.logMu.Unlock()
		}
	}()
	done := s.done
	go func() { _ = cmd.Wait(); pw.Close(); close(done) }()

	cfg := vault.DefaultConfig()
	cfg.Address = s.Addr
	cfg.MaxRetries = 0
	root, err := vault.NewClient(cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	root.SetToken(RootToken)
	s.Root = root
	deadline := time.Now().Add(60 * time.Second)
	for {
		h, err := root.Sys().Health()
		if err == nil && h.Initialized && !h.Sealed {
			break
		}
		select {
		case <-done:
			s.t.Fatalf("Vault exited at start:\n%s", s.logLocked())
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("Vault did not answer within 60 s (%v):\n%s", err, s.logLocked())
		}
		s.mu.Unlock()
		time.Sleep(100 * time.Millisecond)
		s.mu.Lock()
	}
	select {
	case s.UnsealKey = <-unseal:
	case <-time.After(2 * time.Second):
	}
}

func (s *Server) logLocked() string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.log.String()
}

// Stop kills the server (its data goes with it).
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	killTree(cmd.Process)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.t.Errorf("Vault (pid %d) did not exit after SIGKILL", cmd.Process.Pid)
	}
}

// Put writes data at mount/path as a new version and returns it.
func (s *Server) Put(t testing.TB, mount, path string, data map[string]any) int {
	t.Helper()
	sec, err := s.Root.KVv2(mount).Put(context.Background(), path, data)
	if err != nil {
		t.Fatalf("vault kv put %s/%s: %v", mount, path, err)
	}
	return sec.VersionMetadata.Version
}

// Policy writes a policy.
func (s *Server) Policy(t testing.TB, name, hcl string) {
	t.Helper()
	if err := s.Root.Sys().PutPolicy(name, hcl); err != nil {
		t.Fatalf("writing policy %s: %v", name, err)
	}
}

// Token creates a token with the policies and options given.
func (s *Server) Token(t testing.TB, req *vault.TokenCreateRequest) string {
	t.Helper()
	req.NoParent = true
	sec, err := s.Root.Auth().Token().Create(req)
	if err != nil {
		t.Fatalf("creating a token: %v", err)
	}
	return sec.Auth.ClientToken
}

// Write is a raw write with the root token (auth methods, roles).
func (s *Server) Write(t testing.TB, path string, data map[string]any) *vault.Secret {
	t.Helper()
	sec, err := s.Root.Logical().Write(path, data)
	if err != nil {
		t.Fatalf("vault write %s: %v", path, err)
	}
	return sec
}

// Key is a well-formed test key, different for each n.
func Key(n int) string {
	return fmt.Sprintf("sk_vaulttest%020d%s", n, strings.Repeat("x", 12))
}

// NoKeyOnDisk fails t when any file under the dirs holds one of the keys'
// bytes: a key from a remote store must never reach local disk.
func NoKeyOnDisk(t testing.TB, keys []string, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
					return nil
				}
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return nil // a socket, a file gone meanwhile
			}
			for _, k := range keys {
				if bytes.Contains(b, []byte(k)) {
					t.Errorf("%s holds the key %s...: a key from Vault reached local disk", path, k[:7])
				}
			}
			return nil
		})
		if err != nil {
			t.Errorf("scanning %s: %v", dir, err)
		}
	}
}
