package scan

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func gitIn(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.test", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.test")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// Staged reads the index, not the work tree: a key staged and then
// edited away in the file is still found; a key only in the work tree is
// not; a deletion, a binary blob and an oversized blob are not read.
func TestStaged(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs git")
	}
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("GIT_CONFIG_GLOBAL", "/dev/null")
	dir := t.TempDir()
	gitIn(t, dir, "init", "-q")
	write(t, filepath.Join(dir, "gone.py"), "KEY = '"+keyOther+"'\n", 0o644)
	gitIn(t, dir, "add", "gone.py")
	gitIn(t, dir, "commit", "-qm", "one")

	rep, err := Staged(context.Background(), dir, 0)
	if err != nil || len(rep.Findings) != 0 {
		t.Fatalf("nothing staged: %+v %v", rep, err)
	}

	write(t, filepath.Join(dir, "app", "settings.py"), "# settings\nTORALE = \""+keyDocs+"\"\n", 0o644)
	write(t, filepath.Join(dir, "weird name -x.txt"), "token: "+keyServer+"\n", 0o644)
	write(t, filepath.Join(dir, "blob.bin"), "\x00"+keyOther, 0o644)
	write(t, filepath.Join(dir, "big.txt"), strings.Repeat("x", 2000)+keyOther, 0o644)
	gitIn(t, dir, "add", ".")
	gitIn(t, dir, "rm", "-q", "gone.py")
	// Edited after staging: the index still holds the key.
	write(t, filepath.Join(dir, "app", "settings.py"), "# settings\n", 0o644)
	// Only in the work tree: not part of the commit.
	write(t, filepath.Join(dir, "untracked.env"), "TORALE_API_KEY="+keyOther+"\n", 0o644)

	rep, err = Staged(context.Background(), dir, 1000)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range rep.Findings {
		got[f.String()] = f.Key()
	}
	if len(rep.Findings) != 2 || got["app/settings.py:2: "+hint(keyDocs)+" (file)"] != keyDocs || got["weird name -x.txt:1: "+hint(keyServer)+" (file)"] != keyServer {
		t.Errorf("findings: %v", rep.Findings)
	}
	if len(rep.Notes) != 1 || rep.Notes[0].Path != "big.txt" {
		t.Errorf("notes: %+v", rep.Notes)
	}

	// Outside a repository: an error that says so.
	if _, err := Staged(context.Background(), t.TempDir(), 0); err == nil || !strings.Contains(err.Error(), "git") {
		t.Errorf("outside a repository: %v", err)
	}
}
