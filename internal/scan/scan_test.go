package scan

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Test keys: well-formed, never real. keyDocs is the documented shape
// (sk_ + 32), keyServer the live server's (sk_ + 43 URL-safe).
const (
	keyDocs   = "sk_SCANscanSCANscanSCANscanSCANsc01"
	keyServer = "sk_SERVERserver-SERVER_server-SERVERserverSRV"
	keyOther  = "sk_OTHERotherOTHERotherOTHERother0009"
)

func write(t *testing.T, path, content string, perm os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
}

// fixture is a home directory holding keys where users leave them, and
// what a scan must survive.
func fixture(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	write(t, filepath.Join(home, "proj", ".env"), "DEBUG=1\nTORALE_API_KEY="+keyDocs+" # from the dashboard\n", 0o644)
	write(t, filepath.Join(home, ".bashrc"), "alias ll='ls -l'\nexport TORALE_API_KEY=\""+keyServer+"\"\n", 0o644)
	write(t, filepath.Join(home, ".bash_history"), "ls\ncurl -H 'Authorization: Bearer "+keyDocs+"' https://api.torale.ai/auth/me\n", 0o600)
	nb := map[string]any{"cells": []any{map[string]any{
		"cell_type": "code", "source": []string{"import os\n", "print(os.environ['TORALE_API_KEY'])\n"},
		"outputs": []any{map[string]any{"output_type": "stream", "name": "stdout", "text": []string{keyServer + "\n"}}},
	}}}
	b, _ := json.MarshalIndent(nb, "", " ")
	write(t, filepath.Join(home, "notebooks", "explore.ipynb"), string(b), 0o644)
	// A binary file named like a .env: skipped, not read as text.
	write(t, filepath.Join(home, "proj", ".env.bin"), "\x00\x01ELF"+keyOther+"\n", 0o644)
	// Places a user skips.
	write(t, filepath.Join(home, "proj", "node_modules", "pkg", ".env"), "TORALE_API_KEY="+keyOther+"\n", 0o644)
	write(t, filepath.Join(home, "proj", ".git", "config.env"), "TORALE_API_KEY="+keyOther+"\n", 0o644)
	write(t, filepath.Join(home, "proj", "venv2", "pyvenv.cfg"), "home = /usr/bin\n", 0o644)
	write(t, filepath.Join(home, "proj", "venv2", ".env"), "TORALE_API_KEY="+keyOther+"\n", 0o644)
	// A file of no interest holds a key: not a place scan reads.
	write(t, filepath.Join(home, "proj", "notes.txt"), keyOther+"\n", 0o644)
	// A symlink loop, a link out of the tree, and a link to a file read
	// anyway: none is followed.
	must(t, os.Symlink("..", filepath.Join(home, "proj", "loop")))
	must(t, os.Symlink(home, filepath.Join(home, "notebooks", "home")))
	must(t, os.Symlink(filepath.Join(home, "proj", ".env"), filepath.Join(home, ".env.link")))
	// A sparse 1 GiB history: skipped at once, with a note.
	big := filepath.Join(home, "big", ".zsh_history")
	write(t, big, "", 0o600)
	must(t, os.Truncate(big, 1<<30))
	return home
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestWalkFindsEachKeyOnce(t *testing.T) {
	home := fixture(t)
	start := time.Now()
	// The home twice, and a directory inside it: still each place once.
	rep, err := Walk(context.Background(), []string{home, home, filepath.Join(home, "proj")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the scan took %s: the 1 GiB file was read?", took)
	}
	got := map[string]Finding{}
	for _, f := range rep.Findings {
		rel, _ := filepath.Rel(home, f.Path)
		id := fmt.Sprintf("%s:%d", rel, f.Line)
		if _, dup := got[id]; dup {
			t.Errorf("%s found twice", id)
		}
		got[id] = f
	}
	check := func(prefix string, kind Kind, key, variable string) {
		t.Helper()
		n := 0
		for id, f := range got {
			if strings.HasPrefix(id, prefix) {
				n++
				if f.Kind != kind || f.KeyHint != hint(key) || f.Key() != key || f.Variable != variable {
					t.Errorf("%s: got kind %s hint %s variable %q, want %s %s %q", id, f.Kind, f.KeyHint, f.Variable, kind, hint(key), variable)
				}
			}
		}
		if n != 1 {
			t.Errorf("%s: found %d times, want once (all: %v)", prefix, n, keysOf(got))
		}
	}
	check("proj/.env:2", KindEnv, keyDocs, VarKey)
	check(".bashrc:2", KindRC, keyServer, VarKey)
	check(".bash_history:2", KindHistory, keyDocs, "")
	check("notebooks/explore.ipynb:", KindNotebook, keyServer, "")
	if len(got) != 4 {
		t.Errorf("found %d places, want 4: %v", len(got), keysOf(got))
	}
	notes := map[string]string{}
	for _, n := range rep.Notes {
		rel, _ := filepath.Rel(home, n.Path)
		notes[rel] = n.Reason
	}
	if !strings.Contains(notes["big/.zsh_history"], "1.0 GiB") {
		t.Errorf("the 1 GiB file has no note: %v", notes)
	}
	if notes["proj/.env.bin"] != "a binary file" {
		t.Errorf("the binary file has no note: %v", notes)
	}
}

func keysOf(m map[string]Finding) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func hint(k string) string { return "sk_..." + k[len(k)-5:] }

// A finding never prints its key: not through %v, not through JSON.
func TestFindingNeverShowsKey(t *testing.T) {
	fs := Find([]byte("TORALE_API_KEY="+keyDocs+"\n"), ".env", KindEnv)
	if len(fs) != 1 {
		t.Fatalf("found %d", len(fs))
	}
	b, _ := json.Marshal(fs)
	for _, s := range []string{fmt.Sprintf("%v", fs[0]), fmt.Sprintf("%+v", fs[0]), fmt.Sprintf("%#v", fs[0]), fmt.Sprint(fs), fs[0].String()} {
		if strings.Contains(s, keyDocs) || !strings.Contains(s, ".env:1") {
			t.Errorf("printed as %q", s)
		}
	}
	if strings.Contains(string(b), keyDocs) {
		t.Errorf("JSON holds the key: %s", b)
	}
}

func TestWalkNamedFileAndMissing(t *testing.T) {
	home := fixture(t)
	rep, err := Walk(context.Background(), []string{filepath.Join(home, "proj", "notes.txt"), filepath.Join(home, "nope")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Kind != KindFile || rep.Findings[0].Key() != keyOther {
		t.Errorf("a file named on the command line is read whatever its name: %+v", rep.Findings)
	}
	if len(rep.Notes) != 1 || rep.Notes[0].Reason != "does not exist" {
		t.Errorf("notes: %+v", rep.Notes)
	}
}

func TestWalkDepthAndCancel(t *testing.T) {
	home := t.TempDir()
	deep := home
	for i := range 5 {
		deep = filepath.Join(deep, fmt.Sprint("d", i))
	}
	write(t, filepath.Join(deep, ".env"), "TORALE_API_KEY="+keyDocs+"\n", 0o600)
	rep, _ := Walk(context.Background(), []string{home}, Options{MaxDepth: 4})
	if len(rep.Findings) != 0 {
		t.Errorf("found past --max-depth: %+v", rep.Findings)
	}
	rep, _ = Walk(context.Background(), []string{home}, Options{MaxDepth: 5})
	if len(rep.Findings) != 1 {
		t.Errorf("not found within --max-depth: %+v", rep.Findings)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Walk(ctx, []string{home}, Options{}); err == nil {
		t.Error("a cancelled scan went on")
	}
}

func TestWalkFIFO(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no FIFOs")
	}
	home := t.TempDir()
	if err := exec.Command("mkfifo", filepath.Join(home, ".env")).Run(); err != nil {
		t.Skip("mkfifo:", err)
	}
	done := make(chan struct{})
	go func() {
		_, _ = Walk(context.Background(), []string{home, filepath.Join(home, ".env")}, Options{})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a FIFO hung the scan")
	}
}

func TestKeysIn(t *testing.T) {
	long := "sk_" + strings.Repeat("a", 129)
	for _, c := range []struct {
		line string
		want []string
	}{
		{"TORALE_API_KEY=" + keyDocs, []string{keyDocs}},
		{`"` + keyServer + `"`, []string{keyServer}},
		{keyDocs + " " + keyDocs + " " + keyServer, []string{keyDocs, keyServer}},
		{"xsk_SCANscanSCANscanSCANscanSCANsc01", nil}, // not at a word boundary
		{`"text": ["\n` + keyDocs + `\n"]`, []string{keyDocs}},
		{"sk_short", nil},
		{long, nil},
		{"sk_live_" + strings.Repeat("A", 40), nil}, // Stripe's
		{"sk_test_" + strings.Repeat("A", 40), nil},
		{"tcl_" + strings.Repeat("A", 32), nil},
		{keyDocs + "!", []string{keyDocs}},
	} {
		got := KeysIn([]byte(c.line))
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("KeysIn(%.40q…) = %d keys, want %d", c.line, len(got), len(c.want))
		}
	}
}

func TestClassify(t *testing.T) {
	for path, want := range map[string]Kind{
		"/h/.env": KindEnv, "/h/p/.env.local": KindEnv, "/h/p/prod.env": KindEnv, "/h/.bashrc": KindRC,
		"/h/.zshrc": KindRC, "/h/.profile": KindRC, "/h/.config/fish/config.fish": KindRC,
		"/h/.config/fish/conf.d/torale.fish": KindRC, "/h/.bash_history": KindHistory, "/h/.zsh_history": KindHistory,
		"/h/.local/share/fish/fish_history": KindHistory, "/h/n/a.ipynb": KindNotebook, "/h/.torale/config.json": KindConfig,
		"/h/p/config.json": "", "/h/p/main.py": "", "/h/p/.env" + BackupInfix + "20260101T000000Z": KindBackup,
	} {
		if got := Classify(path); got != want {
			t.Errorf("Classify(%s) = %q, want %q", path, got, want)
		}
	}
}
