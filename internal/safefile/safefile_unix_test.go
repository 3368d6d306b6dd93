//go:build unix

package safefile

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/torale-ai/torale-cred/internal/hangtest"

	"github.com/torale-ai/torale-cred/internal/trust"
)

// Every shape a path can take, each answered at once, and only a regular
// file of yours, within the size, opened.
func TestOpenRefusesWhatItCannotHandle(t *testing.T) {
	const small = "{}\n"
	tests := []struct {
		name string
		make func(t *testing.T, path string)
		o    Options
		want error // nil: opened
		says string
	}{
		{name: "regular file", make: write(small, 0o600)},
		{name: "missing", make: func(*testing.T, string) {}, want: fs.ErrNotExist},
		{name: "missing, created", make: func(*testing.T, string) {}, o: Options{Flag: os.O_RDWR | os.O_CREATE, Perm: 0o600}},
		{name: "FIFO", make: fifo, want: ErrNotRegular, says: "is a FIFO"},
		{name: "FIFO, opened to write and create", make: fifo, o: Options{Flag: os.O_RDWR | os.O_CREATE, Perm: 0o600}, want: ErrNotRegular, says: "is a FIFO"},
		{name: "FIFO, opened to append", make: fifo, o: Options{Flag: os.O_WRONLY | os.O_APPEND}, want: ErrNotRegular},
		{name: "FIFO behind a followed link", make: link(fifo), o: Options{FollowLink: true}, want: ErrNotRegular},
		{name: "directory", make: func(t *testing.T, p string) { must(t, os.Mkdir(p, 0o700)) }, want: ErrNotRegular, says: "is a directory"},
		{name: "directory, opened to create", make: func(t *testing.T, p string) { must(t, os.Mkdir(p, 0o700)) }, o: Options{Flag: os.O_RDWR | os.O_CREATE, Perm: 0o600}, want: ErrNotRegular, says: "is a directory"},
		{name: "socket", make: sock, want: ErrNotRegular},
		{name: "device behind a followed link", make: func(t *testing.T, p string) { must(t, os.Symlink("/dev/null", p)) }, o: Options{FollowLink: true}, want: ErrNotRegular},
		{name: "link not followed", make: link(write(small, 0o600)), want: ErrNotRegular, says: "symbolic link"},
		{name: "link followed", make: link(write(small, 0o600)), o: Options{FollowLink: true}},
		{name: "dangling link followed", make: func(t *testing.T, p string) { must(t, os.Symlink("nowhere", p)) }, o: Options{FollowLink: true}, want: fs.ErrNotExist},
		{name: "too large", make: write(strings.Repeat("x", 100), 0o600), o: Options{MaxSize: 99}, want: ErrTooLarge, says: "larger than"},
		{name: "at the size", make: write(strings.Repeat("x", 99), 0o600), o: Options{MaxSize: 99}},
		{name: "writable by others", make: write(small, 0o666), want: trust.ErrUntrusted, says: "writable by others"},
		{name: "writable by group", make: write(small, 0o620), want: trust.ErrUntrusted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "d")
			must(t, os.Mkdir(dir, 0o700))
			path := filepath.Join(dir, "f")
			tt.make(t, path)
			err := hangtest.Within(t, func() error {
				f, fi, err := Open(path, tt.o)
				if err == nil {
					if !fi.Mode().IsRegular() {
						t.Errorf("opened %v", fi.Mode())
					}
					f.Close()
				}
				return err
			})
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("Open: %v", err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("Open = %v, want %v", err, tt.want)
			case err != nil && (!strings.Contains(err.Error(), tt.says) || !tt.o.FollowLink && !strings.Contains(err.Error(), dir)):
				t.Errorf("error %q should say %q and name the path", err, tt.says)
			}
		})
	}
}

// A directory that fails the trust rules is not read from, nor created in.
func TestOpenRefusesUntrustedDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d")
	must(t, os.Mkdir(dir, 0o700))
	path := filepath.Join(dir, "f")
	write("{}", 0o600)(t, path)
	must(t, os.Chmod(dir, 0o777))
	for _, o := range []Options{{}, {Flag: os.O_RDWR | os.O_CREATE, Perm: 0o600}} {
		if _, _, err := Open(path, o); !errors.Is(err, trust.ErrUntrusted) {
			t.Errorf("Open(%+v) in a 0777 directory: %v", o, err)
		}
	}
	if _, _, err := Open(filepath.Join(dir, "new"), Options{Flag: os.O_RDWR | os.O_CREATE, Perm: 0o600}); !errors.Is(err, trust.ErrUntrusted) {
		t.Errorf("created a file in a 0777 directory: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "new")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("the file was created")
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	write("hello", 0o600)(t, path)
	if b, err := ReadFile(path, Options{MaxSize: 5}); err != nil || string(b) != "hello" {
		t.Fatalf("ReadFile = %q, %v", b, err)
	}
	if _, err := ReadFile(path, Options{MaxSize: 4}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("ReadFile past the size: %v", err)
	}
	if _, err := ReadFile(path, Options{}); err == nil {
		t.Fatal("ReadFile without a size read the file")
	}
}

func write(content string, perm os.FileMode) func(*testing.T, string) {
	return func(t *testing.T, p string) {
		t.Helper()
		must(t, os.WriteFile(p, []byte(content), perm))
		must(t, os.Chmod(p, perm)) // past the umask
	}
}

func fifo(t *testing.T, p string) { t.Helper(); must(t, syscall.Mkfifo(p, 0o600)) }

func sock(t *testing.T, p string) {
	t.Helper()
	l, err := net.Listen("unix", p)
	must(t, err)
	t.Cleanup(func() { l.Close() })
}

// link makes the thing at a sibling path and links p to it.
func link(make func(*testing.T, string)) func(*testing.T, string) {
	return func(t *testing.T, p string) {
		t.Helper()
		make(t, p+".target")
		must(t, os.Symlink(filepath.Base(p)+".target", p))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
