package credstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/internal/testkeyring"
	"github.com/torale-ai/torale-cred/internal/toraleconfig"
)

const (
	migKey  = "sk_MIGRATEmigrateMIGRATEmigrate12345"
	migKey2 = "sk_SECONDsecondSECONDsecondSECONDsec_-9Zq8Yp7Xo6Wn5" // server-style, 43+ characters
)

// migrationFixture is a HOME with ~/.torale and a Store over the test
// Secret Service under a service name of its own.
type migrationFixture struct {
	t     *testing.T
	store *Store
	dir   string // ~/.torale
	path  string // ~/.torale/config.json
}

func newMigrationFixture(t *testing.T) *migrationFixture {
	t.Helper()
	testkeyring.Require(t)
	home := t.TempDir()
	dir := filepath.Join(home, ".torale")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	f := &migrationFixture{t: t, dir: dir, path: filepath.Join(dir, "config.json")}
	f.store = &Store{
		Keychain:   keychain.New(keychain.WithService(testkeyring.Service())),
		StateFile:  StateFile{Dir: filepath.Join(home, "state")},
		ConfigPath: f.path,
	}
	t.Cleanup(func() { _ = f.store.Keychain.Delete(context.Background(), DefaultProfile) })
	return f
}

func (f *migrationFixture) write(content string, perm os.FileMode) {
	f.t.Helper()
	if err := os.WriteFile(f.path, []byte(content), perm); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Chmod(f.path, perm); err != nil {
		f.t.Fatal(err)
	}
}

func (f *migrationFixture) stored() (string, error) {
	return f.store.Keychain.Get(context.Background(), DefaultProfile)
}

func (f *migrationFixture) wantStored(key string) {
	f.t.Helper()
	got, err := f.stored()
	if err != nil || got != key {
		f.t.Fatalf("keychain holds %s (err %v), want %s", apikey.Hint(got), err, apikey.Hint(key))
	}
}

func (f *migrationFixture) wantNothingStored() {
	f.t.Helper()
	if got, err := f.stored(); !errors.Is(err, storeerr.ErrNotFound) {
		f.t.Fatalf("keychain holds %s (err %v), want nothing", apikey.Hint(got), err)
	}
}

func (f *migrationFixture) profile() *Profile {
	f.t.Helper()
	st, err := f.store.StateFile.Load()
	if err != nil {
		f.t.Fatal(err)
	}
	return st.Profiles[DefaultProfile]
}

func pretty(fields ...string) string {
	return "{\n  " + strings.Join(fields, ",\n  ") + "\n}\n"
}

func TestMigrateMovesKeyKeepingEverythingElse(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"key first",
			pretty(`"api_key": "`+migKey+`"`, `"api_url": "https://torale.example.test"`, `"zeta": {"nested": [1, 2, 3]}`, `"alpha": true`),
			pretty(`"api_url": "https://torale.example.test"`, `"zeta": {"nested": [1, 2, 3]}`, `"alpha": true`)},
		{"key in the middle",
			pretty(`"zeta": 1`, `"api_key": "`+migKey+`"`, `"api_url": "https://torale.example.test"`),
			pretty(`"zeta": 1`, `"api_url": "https://torale.example.test"`)},
		{"key last",
			pretty(`"api_url": "https://torale.example.test"`, `"unknown": "kept \u00e9 as written"`, `"api_key": "`+migKey+`"`),
			pretty(`"api_url": "https://torale.example.test"`, `"unknown": "kept \u00e9 as written"`)},
		{"compact",
			`{"b":2,"api_key":"` + migKey + `","api_url":"https://torale.example.test","a":[]}`,
			`{"b":2,"api_url":"https://torale.example.test","a":[]}`},
		{"only the key", pretty(`"api_key": "` + migKey + `"`), "{\n}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newMigrationFixture(t)
			f.write(tt.in, 0o600)
			res, err := f.store.MigrateConfig(context.Background())
			if err != nil || res.Outcome != Migrated {
				t.Fatalf("MigrateConfig = %+v, %v; want migrated", res, err)
			}
			if res.KeyHint != apikey.Hint(migKey) || res.Profile != DefaultProfile {
				t.Errorf("result = %+v", res)
			}
			got, _ := os.ReadFile(f.path)
			if string(got) != tt.want {
				t.Errorf("config.json after:\n%s\nwant:\n%s", got, tt.want)
			}
			f.wantStored(migKey)
			p := f.profile()
			if p == nil || p.Source != SourceConfig || p.KeyHint != apikey.Hint(migKey) {
				t.Fatalf("metadata = %+v", p)
			}
			if p.APIURL != nil {
				t.Errorf("a migration set the profile's URL (%q): config.json's api_url stays config.json's", *p.APIURL)
			}
			// Running again finds nothing to do and changes nothing.
			res, err = f.store.MigrateConfig(context.Background())
			if err != nil || res.Outcome != NothingToMigrate {
				t.Fatalf("second MigrateConfig = %+v, %v; want nothing", res, err)
			}
			again, _ := os.ReadFile(f.path)
			if !bytes.Equal(again, got) {
				t.Error("a second run changed the file")
			}
			state, _ := os.ReadFile(f.store.StateFile.Path())
			if bytes.Contains(state, []byte(migKey)) {
				t.Error("state.json holds the key")
			}
		})
	}
}

func TestMigrateNeverLosesData(t *testing.T) {
	huge := `{"api_key": "` + migKey + `", "pad": "` + strings.Repeat("x", toraleconfig.MaxSize) + `"}`
	tests := []struct {
		name    string
		content string
		perm    os.FileMode
		problem MigrationProblem
		reason  string
	}{
		{"half-written", `{"api_key": "` + migKey + `", "api_u`, 0o600, ProblemMalformed, "half-written"},
		{"truncated mid-value", `{"api_key": "sk_`, 0o600, ProblemMalformed, "not valid JSON"},
		{"BOM", "\xef\xbb\xbf" + `{"api_key": "` + migKey + `"}`, 0o600, ProblemMalformed, "byte-order mark"},
		{"array at top level", `["` + migKey + `"]`, 0o600, ProblemMalformed, "not a JSON object"},
		{"string at top level", `"` + migKey + `"`, 0o600, ProblemMalformed, "not a JSON object"},
		{"two values", `{"api_key": "` + migKey + `"} {}`, 0o600, ProblemMalformed, "more than one JSON value"},
		{"api_key an object", `{"api_key": {"value": "` + migKey + `"}}`, 0o600, ProblemMalformed, "not a string"},
		{"api_key a number", `{"api_key": 12345}`, 0o600, ProblemMalformed, "not a string"},
		{"duplicate api_key", `{"api_key": "` + migKey + `", "api_key": "` + migKey2 + `"}`, 0o600, ProblemMalformed, "2 api_key fields"},
		{"not UTF-8", "{\"api_key\": \"" + migKey + "\", \"x\": \"\xff\"}", 0o600, ProblemMalformed, "not UTF-8"},
		{"short key", `{"api_key": "sk_short12345"}`, 0o600, ProblemBadKey, "not a well-formed Torale key"},
		{"wrong prefix", `{"api_key": "pk_live_abcdefghijklmnopqrstuvwxyz0123456789"}`, 0o600, ProblemBadKey, "starts with sk_"},
		{"bad character", `{"api_key": "sk_abc!defghijklmnopqrstuvwxyz0123456789"}`, 0o600, ProblemBadKey, "character other than"},
		{"whitespace around the key", `{"api_key": " ` + migKey + ` "}`, 0o600, ProblemBadKey, "whitespace"},
		{"huge", huge, 0o600, ProblemTooLarge, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newMigrationFixture(t)
			f.write(tt.content, tt.perm)
			before, _ := os.Lstat(f.path)
			res, err := f.store.MigrateConfig(context.Background())
			checkLeftInPlace(t, res, err, tt.problem, tt.reason)
			after, _ := os.Lstat(f.path)
			if !os.SameFile(before, after) || before.Mode() != after.Mode() || !before.ModTime().Equal(after.ModTime()) {
				t.Error("the file was replaced or touched")
			}
			_ = os.Chmod(f.path, 0o600)
			got, _ := os.ReadFile(f.path)
			if string(got) != tt.content {
				t.Error("the file was changed")
			}
			f.wantNothingStored()
			if _, err := os.Stat(f.store.StateFile.Path()); !errors.Is(err, fs.ErrNotExist) {
				t.Error("metadata was written for a key left in place")
			}
			checkNoStrays(t, f.dir, "config.json")
		})
	}
}

func checkLeftInPlace(t *testing.T, res MigrationResult, err error, problem MigrationProblem, reason string) {
	t.Helper()
	var me *MigrationError
	if !errors.As(err, &me) || res.Outcome != LeftInPlace || res.Problem != problem || me.Result.Problem != problem {
		t.Fatalf("MigrateConfig = %+v, %v; want left in place (%s)", res, err, problem)
	}
	if !strings.Contains(res.Reason, reason) || !strings.Contains(err.Error(), reason) {
		t.Errorf("reason %q / error %q should say %q", res.Reason, err, reason)
	}
	for _, k := range []string{migKey, migKey2, "abcdefghijklmnopqrstuvwxyz0123456789", "short12345"} {
		if strings.Contains(err.Error(), k) || strings.Contains(res.Reason, k) {
			t.Errorf("error %q shows the key", err)
		}
	}
	// A file that was read is known to hold a key; one never opened (a
	// directory, a device, untrusted) is described as what it is instead.
	lead := "left the plaintext key in "
	if !problem.Read() {
		lead = "read nothing from "
	}
	if !strings.HasPrefix(err.Error(), lead) {
		t.Errorf("error %q is not one sentence about the file (want it to start %q)", err, lead)
	}
}

// checkNoStrays fails when a directory holds anything but the names given
// (a temporary file left behind).
func checkNoStrays(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		ok := false
		for _, n := range names {
			ok = ok || e.Name() == n
		}
		if !ok {
			t.Errorf("stray file %s in %s", e.Name(), dir)
		}
	}
}

func TestMigrateLeavesUnreadableAlone(t *testing.T) {
	f := newMigrationFixture(t)
	content := `{"api_key": "` + migKey + `"}`
	f.write(content, 0o000)
	if os.Geteuid() == 0 {
		// Root reads a mode-000 file; a write-only sysfs attribute is a
		// regular file even root cannot open for reading.
		const wo = "/sys/bus/pci/rescan"
		if fh, err := os.Open(wo); err == nil || !errors.Is(err, fs.ErrPermission) {
			if fh != nil {
				fh.Close()
			}
			t.Skip("running as root without an unreadable regular file to point at")
		}
		_ = os.Remove(f.path)
		if err := os.Symlink(wo, f.path); err != nil {
			t.Fatal(err)
		}
	}
	res, err := f.store.MigrateConfig(context.Background())
	checkLeftInPlace(t, res, err, ProblemUnreadable, "permission denied")
	f.wantNothingStored()
	if os.Geteuid() != 0 {
		fi, _ := os.Stat(f.path)
		_ = os.Chmod(f.path, 0o600)
		if got, _ := os.ReadFile(f.path); string(got) != content || fi.Mode().Perm() != 0 {
			t.Error("the file was changed")
		}
	}
}

func TestMigrateLeavesDirectoryAlone(t *testing.T) {
	f := newMigrationFixture(t)
	if err := os.Mkdir(f.path, 0o700); err != nil {
		t.Fatal(err)
	}
	res, err := f.store.MigrateConfig(context.Background())
	checkLeftInPlace(t, res, err, ProblemNotRegular, "a directory")
	if fi, err := os.Stat(f.path); err != nil || !fi.IsDir() {
		t.Fatal("the directory was touched")
	}
	f.wantNothingStored()
}

func TestMigrateNothingToDo(t *testing.T) {
	tests := []struct{ name, content, reason string }{
		{"no api_key", pretty(`"api_url": "https://torale.example.test"`), "holds no api_key"},
		{"empty api_key", `{"api_key": ""}`, "empty api_key"},
		{"null api_key", `{"api_key": null}`, "empty api_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newMigrationFixture(t)
			f.write(tt.content, 0o644)
			res, err := f.store.MigrateConfig(context.Background())
			if err != nil || res.Outcome != NothingToMigrate || !strings.Contains(res.Reason, tt.reason) {
				t.Fatalf("MigrateConfig = %+v, %v", res, err)
			}
			if got, _ := os.ReadFile(f.path); string(got) != tt.content {
				t.Error("file changed")
			}
			if fi, _ := os.Stat(f.path); fi.Mode().Perm() != 0o644 {
				t.Errorf("mode changed to %v", fi.Mode())
			}
			f.wantNothingStored()
		})
	}
}

// A deleted config.json is never a logout: the stored key stays.
func TestMigrateDeletedFileKeepsStoredKey(t *testing.T) {
	f := newMigrationFixture(t)
	f.write(pretty(`"api_key": "`+migKey+`"`), 0o600)
	if _, err := f.store.MigrateConfig(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(f.path); err != nil {
		t.Fatal(err)
	}
	res, err := f.store.MigrateConfig(context.Background())
	if err != nil || res.Outcome != NothingToMigrate || !strings.Contains(res.Reason, "does not exist") {
		t.Fatalf("MigrateConfig = %+v, %v", res, err)
	}
	f.wantStored(migKey)
	if p := f.profile(); p == nil || p.KeyHint != apikey.Hint(migKey) {
		t.Fatalf("metadata lost: %+v", p)
	}
	// The whole directory going is no logout either.
	if err := os.RemoveAll(f.dir); err != nil {
		t.Fatal(err)
	}
	if res, err := f.store.MigrateConfig(context.Background()); err != nil || res.Outcome != NothingToMigrate {
		t.Fatalf("MigrateConfig = %+v, %v", res, err)
	}
	f.wantStored(migKey)
}

// An empty config.json (the official CLI about to write it, or cleared)
// holds no key: nothing to move, nothing reported as malformed.
func TestMigrateEmptyFileHoldsNoKey(t *testing.T) {
	for _, content := range []string{"", "\n  \n"} {
		f := newMigrationFixture(t)
		f.write(content, 0o600)
		res, err := f.store.MigrateConfig(context.Background())
		if err != nil || res.Outcome != NothingToMigrate || !strings.Contains(res.Reason, "is empty") {
			t.Fatalf("MigrateConfig(%q) = %+v, %v", content, res, err)
		}
		f.wantNothingStored()
	}
}

// SPEC's trust rules: a config.json writable by others, or in a directory
// writable by others, or owned by another user, is not read at all.
func TestMigrateRefusesUntrustedFiles(t *testing.T) {
	t.Run("file writable by others", func(t *testing.T) {
		f := newMigrationFixture(t)
		f.write(pretty(`"api_key": "`+migKey+`"`), 0o666)
		res, err := f.store.MigrateConfig(context.Background())
		checkLeftInPlace(t, res, err, ProblemUntrusted, "writable by others")
		f.wantNothingStored()
	})
	t.Run("directory writable by group", func(t *testing.T) {
		f := newMigrationFixture(t)
		f.write(pretty(`"api_key": "`+migKey+`"`), 0o600)
		if err := os.Chmod(f.dir, 0o775); err != nil {
			t.Fatal(err)
		}
		res, err := f.store.MigrateConfig(context.Background())
		checkLeftInPlace(t, res, err, ProblemUntrusted, "writable by others")
		f.wantNothingStored()
	})
	t.Run("file owned by another user", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root to give a file to another user")
		}
		f := newMigrationFixture(t)
		f.write(pretty(`"api_key": "`+migKey+`"`), 0o600)
		if err := os.Chown(f.path, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		res, err := f.store.MigrateConfig(context.Background())
		checkLeftInPlace(t, res, err, ProblemUntrusted, "owned by user id 65534")
		f.wantNothingStored()
	})
}

func TestMigrateModes(t *testing.T) {
	tests := []struct{ in, want os.FileMode }{
		{0o600, 0o600},
		{0o644, 0o600}, // it held a key: never wider than 0600
		{0o755, 0o600},
		{0o400, 0o400}, // narrower modes are kept
		{0o640, 0o600},
	}
	for _, tt := range tests {
		t.Run(tt.in.String(), func(t *testing.T) {
			f := newMigrationFixture(t)
			f.write(pretty(`"api_key": "`+migKey+`"`, `"api_url": "https://torale.example.test"`), tt.in)
			if res, err := f.store.MigrateConfig(context.Background()); err != nil || res.Outcome != Migrated {
				t.Fatalf("MigrateConfig = %+v, %v", res, err)
			}
			fi, err := os.Stat(f.path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != tt.want {
				t.Errorf("mode %v, want %v", fi.Mode().Perm(), tt.want)
			}
			checkNoStrays(t, f.dir, "config.json")
		})
	}
}

func TestMigrateSymlinkKeepsLink(t *testing.T) {
	f := newMigrationFixture(t)
	dotfiles := filepath.Join(t.TempDir(), "dotfiles", "torale")
	if err := os.MkdirAll(dotfiles, 0o700); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dotfiles, "config.json")
	if err := os.WriteFile(target, []byte(pretty(`"api_url": "https://torale.example.test"`, `"api_key": "`+migKey+`"`)), 0o644); err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(f.dir, target)
	if err := os.Symlink(rel, f.path); err != nil {
		t.Fatal(err)
	}
	res, err := f.store.MigrateConfig(context.Background())
	if err != nil || res.Outcome != Migrated {
		t.Fatalf("MigrateConfig = %+v, %v", res, err)
	}
	if want, _ := filepath.EvalSymlinks(target); res.Target != want {
		t.Errorf("Target = %s, want %s", res.Target, want)
	}
	li, err := os.Lstat(f.path)
	if err != nil || li.Mode()&fs.ModeSymlink == 0 {
		t.Fatal("the symlink was replaced")
	}
	if l, _ := os.Readlink(f.path); l != rel {
		t.Errorf("link now points at %s, want %s", l, rel)
	}
	got, _ := os.ReadFile(target)
	if string(got) != pretty(`"api_url": "https://torale.example.test"`) {
		t.Errorf("target = %s", got)
	}
	if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o600 {
		t.Errorf("target mode %v, want 0600", fi.Mode().Perm())
	}
	f.wantStored(migKey)
	checkNoStrays(t, dotfiles, "config.json")
}

func TestMigrateDanglingSymlinkIsNothing(t *testing.T) {
	f := newMigrationFixture(t)
	if err := os.Symlink(filepath.Join(t.TempDir(), "gone.json"), f.path); err != nil {
		t.Fatal(err)
	}
	res, err := f.store.MigrateConfig(context.Background())
	if err != nil || res.Outcome != NothingToMigrate {
		t.Fatalf("MigrateConfig = %+v, %v", res, err)
	}
}

// A new key replacing a stored one restarts the rotation clock and keeps the
// old key's hint; the same key again changes nothing.
func TestMigrateReplacingKeyResetsClock(t *testing.T) {
	f := newMigrationFixture(t)
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.store.Now = func() time.Time { return clock }
	created := clock.Add(-24 * time.Hour)
	if _, err := f.store.Put(context.Background(), DefaultProfile, migKey, PutOptions{Source: SourceLogin, CreatedAt: &created}); err != nil {
		t.Fatal(err)
	}

	clock = clock.Add(30 * 24 * time.Hour)
	f.write(pretty(`"api_key": "`+migKey+`"`), 0o600)
	res, err := f.store.MigrateConfig(context.Background())
	if err != nil || res.Outcome != Migrated || res.PreviousKeyHint != "" {
		t.Fatalf("same key: %+v, %v", res, err)
	}
	if p := f.profile(); !p.StoredAt.Equal(clock.Add(-30*24*time.Hour)) || p.Source != SourceLogin || p.CreatedAt == nil {
		t.Errorf("the same key restarted the clock: %+v", p)
	}

	clock = clock.Add(24 * time.Hour)
	f.write(pretty(`"api_key": "`+migKey2+`"`, `"api_url": "https://torale.example.test"`), 0o600)
	res, err = f.store.MigrateConfig(context.Background())
	if err != nil || res.Outcome != Migrated || res.PreviousKeyHint != apikey.Hint(migKey) || res.KeyHint != apikey.Hint(migKey2) {
		t.Fatalf("new key: %+v, %v", res, err)
	}
	f.wantStored(migKey2)
	p := f.profile()
	if !p.StoredAt.Equal(clock) || p.CreatedAt != nil || p.Source != SourceConfig || p.PreviousKeyHint != apikey.Hint(migKey) || p.KeyHint != apikey.Hint(migKey2) {
		t.Errorf("metadata after a new key = %+v", p)
	}
	if rot := RotationOf(*p, 0, clock); rot.AgeDays != 0 {
		t.Errorf("rotation age %d, want 0", rot.AgeDays)
	}
	if !strings.Contains(res.String(), "replacing "+apikey.Hint(migKey)) {
		t.Errorf("String() = %q", res.String())
	}
}

// Keychain unavailable: the key stays in the file, the error says so and
// is storeerr.ErrKeychain (exit 4, the daemon retries).
func TestMigrateKeychainUnavailable(t *testing.T) {
	f := newMigrationFixture(t)
	content := pretty(`"api_key": "` + migKey + `"`)
	f.write(content, 0o644)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	res, err := f.store.MigrateConfig(context.Background())
	if !errors.Is(err, storeerr.ErrKeychain) || res.Outcome != LeftInPlace || res.Problem != ProblemKeychain || !res.Problem.Transient() {
		t.Fatalf("MigrateConfig = %+v, %v; want a keychain failure", res, err)
	}
	if !strings.Contains(err.Error(), "keychain is unavailable") || strings.Contains(err.Error(), migKey) {
		t.Errorf("error = %q", err)
	}
	if got, _ := os.ReadFile(f.path); string(got) != content {
		t.Error("the file changed")
	}
	if fi, _ := os.Stat(f.path); fi.Mode().Perm() != 0o644 {
		t.Error("the mode changed")
	}
}

// A writer racing the migrations: whatever it wrote last ends up stored, and
// no file is ever torn.
func TestMigrateRacingWriter(t *testing.T) {
	f := newMigrationFixture(t)
	keys := []string{migKey, migKey2}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			res, err := f.store.MigrateConfig(ctx)
			if err != nil && ctx.Err() == nil && res.Problem != ProblemBusy && res.Problem != ProblemMalformed {
				done <- fmt.Errorf("MigrateConfig (%s): %w", res.Problem, err)
				return
			}
		}
		done <- nil
	}()
	var last string
	for i := range 60 {
		last = keys[i%2]
		content := pretty(`"api_key": "`+last+`"`, `"n": `+strconv.Itoa(i))
		if i%2 == 0 {
			tmp := f.path + ".w"
			_ = os.WriteFile(tmp, []byte(content), 0o600)
			_ = os.Rename(tmp, f.path)
		} else {
			f.write(content, 0o600)
		}
		time.Sleep(time.Duration(i%7) * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	res, err := f.store.MigrateConfig(context.Background())
	if err != nil {
		t.Fatalf("final MigrateConfig = %+v, %v", res, err)
	}
	f.wantStored(last)
	got, _ := os.ReadFile(f.path)
	if want := pretty(`"n": 59`); string(got) != want {
		t.Fatalf("file = %q, want %q", got, want)
	}
}

// Another hard link to config.json keeps the old bytes after the rename:
// the key moves all the same and the user is told where it still is.
func TestMigrateWarnsAboutHardLinks(t *testing.T) {
	f := newMigrationFixture(t)
	f.write(pretty(`"api_key": "`+migKey+`"`), 0o600)
	other := filepath.Join(t.TempDir(), "backup.json")
	if err := os.Link(f.path, other); err != nil {
		t.Skip("no hard links here:", err)
	}
	res, err := f.store.MigrateConfig(context.Background())
	if err != nil || res.Outcome != Migrated || !strings.Contains(res.Warning, "another hard link") {
		t.Fatalf("MigrateConfig = %+v, %v", res, err)
	}
	f.wantStored(migKey)
}
