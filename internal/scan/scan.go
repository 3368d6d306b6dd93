// Package scan finds real Torale API keys left in plaintext where users
// put them (config.json, .env files, shell rc files and their history,
// Jupyter notebooks, staged git blobs) and rewrites a .env file to the local
// endpoint. It shows a key only by its hint (sk_...xyz89) and never writes
// a key anywhere but the backup beside a file it rewrites.
package scan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/internal/safefile"
)

// Kind is what a file is to the scan, which decides what --fix may do.
type Kind string

const (
	KindConfig   Kind = "config"   // a Torale config.json: the migration moves it
	KindEnv      Kind = "env"      // a .env file: rewritten to the local endpoint
	KindRC       Kind = "rc"       // a shell start-up file: reported, the line to delete
	KindHistory  Kind = "history"  // a shell or REPL history: reported, rotate
	KindNotebook Kind = "notebook" // a Jupyter notebook (outputs too): reported, rotate
	KindBackup   Kind = "backup"   // a backup scan --fix made: delete it once checked
	KindFile     Kind = "file"     // a file named on the command line, or a staged blob
)

// BackupInfix names the backups scan --fix writes beside a file:
// "<name>.torale-cred-backup-<time>".
const BackupInfix = ".torale-cred-backup-"

// Defaults bound a scan of a home directory.
const (
	DefaultMaxDepth = 12
	DefaultMaxSize  = 32 << 20
	// binarySniff is how much of a file is looked at for a NUL byte (git's
	// own heuristic).
	binarySniff = 8000
)

var rcNames = []string{
	".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile", ".bash_aliases",
	".zshrc", ".zshenv", ".zprofile", ".zlogin", ".kshrc", ".mkshrc", ".cshrc", ".tcshrc",
	".envrc", ".xprofile", ".pam_environment",
}

var historyNames = []string{
	".bash_history", ".zsh_history", ".histfile", ".sh_history", ".ksh_history", "fish_history",
	".python_history", ".node_repl_history", ".psql_history", ".mysql_history", ".sqlite_history",
	".lesshst", ".ipython_history",
}

// skipDirs are never entered: what a user would skip and where nobody
// keeps a key by hand (version control, dependencies, caches, builds).
var skipDirs = []string{
	".git", ".hg", ".svn", "node_modules", "bower_components", ".cache", "__pycache__",
	".venv", "venv", ".virtualenvs", "virtualenvs", ".tox", ".nox", ".mypy_cache", ".pytest_cache",
	".ruff_cache", "site-packages", "dist-packages", ".npm", ".yarn", ".pnpm-store", ".cargo", ".rustup",
	".gradle", ".m2", ".ivy2", ".terraform", ".Trash", "Trash", "Caches", ".ccache", ".conda",
	"miniconda3", "anaconda3", ".pyenv", ".nvm", ".local/share/containers", "go/pkg", ".ipynb_checkpoints",
}

// Classify says what the file at path is to the scan; "" for a file a
// home-directory scan does not read.
func Classify(path string) Kind {
	base := filepath.Base(path)
	parent := filepath.Base(filepath.Dir(path))
	switch {
	case strings.Contains(base, BackupInfix):
		return KindBackup
	case base == "config.json" && parent == ".torale":
		return KindConfig
	case base == ".env" || strings.HasPrefix(base, ".env.") || strings.HasSuffix(base, ".env"):
		return KindEnv
	case slices.Contains(rcNames, base):
		return KindRC
	case parent == "fish" && base == "config.fish", parent == "conf.d" && filepath.Base(filepath.Dir(filepath.Dir(path))) == "fish" && strings.HasSuffix(base, ".fish"):
		return KindRC
	case slices.Contains(historyNames, base), strings.HasSuffix(base, "_history"):
		return KindHistory
	case strings.HasSuffix(base, ".ipynb"):
		return KindNotebook
	}
	return ""
}

// Finding is one key in one place: a file and a line. It holds the key
// for --fix, unexported and never marshalled or printed: Hint shows it.
type Finding struct {
	Path    string `json:"path"`
	Line    int    `json:"line"`
	Kind    Kind   `json:"kind"`
	KeyHint string `json:"key_hint"`
	// Variable is the name the key is assigned to, when the line is a
	// `NAME=VALUE` assignment (TORALE_API_KEY).
	Variable string `json:"variable,omitempty"`
	key      string
}

// String is the finding as people see it (path:line: hint): what %v,
// %+v and %#v print, so a logged Finding never shows its key.
func (f Finding) String() string {
	return fmt.Sprintf("%s:%d: %s (%s)", f.Path, f.Line, f.KeyHint, f.Kind)
}

// GoString is String: %#v would print the key field.
func (f Finding) GoString() string { return f.String() }

// Key is the key found (for --fix alone: never print it).
func (f Finding) Key() string { return f.key }

// Note is a file or directory the scan did not read, and why.
type Note struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Report is what a scan found.
type Report struct {
	Findings []Finding `json:"findings"`
	Notes    []Note    `json:"notes,omitempty"`
	// Files is how many files were read.
	Files int `json:"files_read"`
}

// Options bound a scan.
type Options struct {
	// MaxDepth bounds how deep below each root a scan goes (0: DefaultMaxDepth).
	MaxDepth int
	// MaxSize is the largest file read (0: DefaultMaxSize); a larger one
	// is noted and skipped without being read.
	MaxSize int64
	// ConfigPath is the watched config.json, a KindConfig wherever it is.
	ConfigPath string
}

func (o Options) maxDepth() int {
	if o.MaxDepth > 0 {
		return o.MaxDepth
	}
	return DefaultMaxDepth
}

func (o Options) maxSize() int64 {
	if o.MaxSize > 0 {
		return o.MaxSize
	}
	return DefaultMaxSize
}

// Walk scans roots: a directory is walked (symbolic links below it are
// never followed, so a link loop is harmless; each file and directory is
// read once however often it is reached), a file named as a root is read
// whatever its name. It stops early only when ctx ends (returning ctx's
// error with what was found so far).
func Walk(ctx context.Context, roots []string, o Options) (Report, error) {
	w := &walker{o: o, seen: map[fileID]bool{}}
	if o.ConfigPath != "" {
		if fi, err := os.Stat(o.ConfigPath); err == nil {
			w.config, w.hasConfig = idOf(fi, o.ConfigPath), true
		}
	}
	for _, root := range roots {
		if err := ctx.Err(); err != nil {
			return w.r, err
		}
		root = filepath.Clean(root)
		fi, err := os.Stat(root) // a root that is a link is followed: the user named it
		if err != nil {
			w.note(root, describe(err))
			continue
		}
		if fi.IsDir() {
			if err := w.dir(ctx, root, fi, 0); err != nil {
				return w.r, err
			}
			continue
		}
		kind := Classify(root)
		if kind == "" {
			kind = KindFile
		}
		if real, err := filepath.EvalSymlinks(root); err == nil {
			root = real // read where the named link points, never a link below it
		}
		w.file(root, fi, kind)
	}
	return w.r, nil
}

type walker struct {
	o         Options
	r         Report
	seen      map[fileID]bool
	config    fileID
	hasConfig bool
}

func (w *walker) note(path, reason string) {
	w.r.Notes = append(w.r.Notes, Note{Path: path, Reason: reason})
}

func (w *walker) dir(ctx context.Context, path string, fi fs.FileInfo, depth int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	id := idOf(fi, path)
	if w.seen[id] {
		return nil
	}
	w.seen[id] = true
	ents, err := os.ReadDir(path)
	if err != nil {
		w.note(path, describe(err))
	}
	for _, e := range ents {
		p := filepath.Join(path, e.Name())
		switch t := e.Type(); {
		case t&fs.ModeSymlink != 0:
			continue // never followed: no loops, no leaving the tree
		case e.IsDir():
			if skipDir(p) || depth+1 > w.o.maxDepth() {
				continue
			}
			sub, err := e.Info()
			if err != nil {
				continue
			}
			if err := w.dir(ctx, p, sub, depth+1); err != nil {
				return err
			}
		case t.IsRegular():
			kind := Classify(p)
			sub, err := e.Info()
			if err != nil {
				continue
			}
			if w.hasConfig && idOf(sub, p) == w.config {
				kind = KindConfig
			}
			if kind == "" {
				continue
			}
			w.file(p, sub, kind)
		}
	}
	return nil
}

func skipDir(p string) bool {
	base := filepath.Base(p)
	for _, s := range skipDirs {
		if s == base || strings.Contains(s, "/") && strings.HasSuffix(p, string(filepath.Separator)+filepath.FromSlash(s)) {
			return true
		}
	}
	// A virtualenv by another name.
	_, err := os.Lstat(filepath.Join(p, "pyvenv.cfg"))
	return err == nil
}

// file reads one file (at most MaxSize, never following a link, never
// blocking on a FIFO) and records each key in it once per line.
func (w *walker) file(path string, fi fs.FileInfo, kind Kind) {
	id := idOf(fi, path)
	if w.seen[id] {
		return
	}
	w.seen[id] = true
	if !fi.Mode().IsRegular() {
		w.note(path, "not a regular file")
		return
	}
	if fi.Size() > w.o.maxSize() {
		w.note(path, fmt.Sprintf("%s, larger than the %s read (--max-size)", size(fi.Size()), size(w.o.maxSize())))
		return
	}
	b, err := ReadBounded(path, w.o.maxSize())
	if err != nil {
		w.note(path, describe(err))
		return
	}
	if Binary(b) {
		w.note(path, "a binary file")
		return
	}
	w.r.Files++
	w.r.Findings = append(w.r.Findings, Find(b, path, kind)...)
}

// Binary reports whether b looks like a binary file: a NUL byte early on.
func Binary(b []byte) bool {
	return bytes.IndexByte(b[:min(len(b), binarySniff)], 0) >= 0
}

// Find is every real key in content, once per line, with the variable it
// is assigned to when the line is an assignment.
func Find(content []byte, path string, kind Kind) []Finding {
	var out []Finding
	for n, l := range splitLines(content) {
		keys := KeysIn(l.text)
		if len(keys) == 0 {
			continue
		}
		a, isAssign := ParseLine(l.text)
		for _, k := range keys {
			f := Finding{Path: path, Line: n + 1, Kind: kind, KeyHint: apikey.Hint(k), key: k}
			if isAssign && strings.Contains(a.Value, k) {
				f.Variable = a.Name
			}
			out = append(out, f)
		}
	}
	return out
}

// KeysIn is each distinct real Torale key in line, in order: a run of key
// characters that starts with sk_ at a word boundary and that
// apikey.Valid accepts whole. Stripe's secret keys (sk_live_,
// sk_test_), which the same pattern would take, are not Torale's.
func KeysIn(line []byte) []string {
	var keys []string
	for i := 0; i < len(line); {
		j := bytes.Index(line[i:], []byte("sk_"))
		if j < 0 {
			break
		}
		start := i + j
		end := start + 3
		for end < len(line) && keyChar(line[end]) {
			end++
		}
		i = end
		// A word boundary before it; in a notebook's JSON, "\nsk_..." is one.
		if start > 0 && keyChar(line[start-1]) && !(start > 1 && line[start-2] == '\\') {
			continue
		}
		k := string(line[start:end])
		if !apikey.Valid(k) || strings.HasPrefix(k, "sk_live_") || strings.HasPrefix(k, "sk_test_") || slices.Contains(keys, k) {
			continue
		}
		keys = append(keys, k)
	}
	return keys
}

func keyChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-'
}

// ReadBounded reads a file of any owner without following a link or
// blocking on a FIFO, refusing one larger than max (safefile.ReadForeign).
func ReadBounded(path string, max int64) ([]byte, error) {
	return safefile.ReadForeign(path, max)
}

func describe(err error) string {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return "not readable (permission denied)"
	case errors.Is(err, fs.ErrNotExist):
		return "does not exist"
	}
	return err.Error()
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
