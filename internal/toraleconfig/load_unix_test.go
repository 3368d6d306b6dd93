//go:build unix

package toraleconfig

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/internal/safefile"
	"github.com/torale-ai/torale-cred/internal/trust"
)

// Load is the one reader: every shape a config.json path can take, each
// answered at once (a FIFO never blocks), none read when untrusted.
func TestLoadRefusesWhatItCannotHandle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".torale")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.json")
	write := func(content string, perm os.FileMode) {
		t.Helper()
		_ = os.RemoveAll(path)
		if err := os.WriteFile(path, []byte(content), perm); err != nil {
			t.Fatal(err)
		}
		_ = os.Chmod(path, perm)
	}
	if s, err := Load(path); err != nil || s.Exists {
		t.Errorf("a missing file: %+v %v", s, err)
	}
	write(`{"api_key":"`+key+`","api_url":"https://x.example"}`, 0o600)
	if s, err := Load(path); err != nil || s.Config.APIKey != key || s.Config.APIURL != "https://x.example" {
		t.Errorf("a good file: %+v %v", s.Config, err)
	}
	write("", 0o600)
	if s, err := Load(path); err != nil || !s.Empty() || s.Config.HasKey {
		t.Errorf("an empty file: %+v %v", s, err)
	}
	write(`{"x":"`+strings.Repeat("a", MaxSize)+`"}`, 0o600)
	if _, err := Load(path); !errors.Is(err, safefile.ErrTooLarge) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("a huge file: %v", err)
	}
	write(`{"api_key":`, 0o600)
	if s, err := Load(path); !errors.Is(err, ErrMalformed) || s.Raw == nil {
		t.Errorf("a half-written file: %v", err)
	}
	write(`{"api_key":"`+key+`"}`, 0o666)
	if s, err := Load(path); !errors.Is(err, trust.ErrUntrusted) || s.Config.APIKey != "" {
		t.Errorf("a file writable by others was read: %+v %v", s.Config, err)
	}
	_ = os.Remove(path)
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); !errors.Is(err, safefile.ErrNotRegular) {
		t.Errorf("a directory: %v", err)
	}
	_ = os.Remove(path)
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := Load(path); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, safefile.ErrNotRegular) {
			t.Errorf("a FIFO: %v", err)
		}
	case <-time.After(10 * time.Second): // only turns a hang into a failure
		t.Fatal("Load blocked on a FIFO")
	}
	_ = os.Remove(path)
	if err := os.Symlink("/dev/zero", path); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); !errors.Is(err, safefile.ErrNotRegular) && !errors.Is(err, trust.ErrUntrusted) {
		t.Errorf("a link to /dev/zero: %v", err)
	}
	_ = os.Remove(path)
	write(`{"api_key":"`+key+`"}`, 0o600)
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); !errors.Is(err, trust.ErrUntrusted) {
		t.Errorf("a directory writable by others: %v", err)
	}
}
