package cli

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/torale-ai/torale-cred/internal/safetext"
	"github.com/torale-ai/torale-cred/internal/scan"
)

type scanOptions struct {
	fix, staged, asJSON bool
	maxDepth            int
	maxSize             int64
}

// scanFinding is a finding as scan shows it: what became of it and what
// the user should do. Never a key.
type scanFinding struct {
	scan.Finding
	// Status: found (scan), fixed (the file now names the endpoint), moved
	// (config.json migrated), left (--fix could not, Advice says why).
	Status string `json:"status"`
	Advice string `json:"advice,omitempty"`
	// Backup is the file as it was, key included, beside a fixed file.
	Backup string `json:"backup,omitempty"`
}

type scanOutput struct {
	Findings []scanFinding `json:"findings"`
	Notes    []scan.Note   `json:"notes,omitempty"`
	Files    int           `json:"files_read"`
}

func newScanCmd(f *Factory) *cobra.Command {
	var o scanOptions
	cmd := &cobra.Command{
		Use:   "scan [PATH...]",
		Short: "Find real Torale keys left in plaintext files; --fix moves them",
		Long: `Looks for real Torale API keys (sk_...) in ~/.torale/config.json, .env files,
shell start-up files (.bashrc, .zshrc, .profile, fish's config) and their
histories, and Jupyter notebooks (outputs included) under each PATH (default:
your home directory). It goes at most --max-depth directories deep, reads no
file larger than --max-size, never follows a symbolic link, and skips .git,
node_modules, caches and virtualenvs. A key is shown by its hint
(sk_...xyz89), never whole.

--fix moves each key into the keychain (a different key stored before is
kept, not lost), then rewrites each .env file so TORALE_API_KEY holds the
profile's local token and TORALE_API_URL the local endpoint (load_dotenv()
and ToraleClient() keep working), every other line kept. The file as it was
is kept beside it (0600) before it is rewritten. config.json is moved as
'torale-cred import' moves it. Shell start-up files, histories and notebooks
are only reported: delete the line, and rotate a key that was in a history or
a notebook (torale-cred rotate).

--staged is a git pre-commit hook ('torale-cred setup-git --pre-commit'):
it refuses a commit whose staged files hold a real key.

Exits 0 when no key is left in a file, 1 when one is (each is listed with
what to do), 2 on a usage error, 4 when the keychain is unavailable.`,
		Example: `  torale-cred scan
  torale-cred scan --fix ~/projects
  torale-cred scan --json ~/notebooks
  torale-cred setup-git --pre-commit   # runs torale-cred scan --staged before each commit`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.staged && (o.fix || len(args) > 0) {
				return usageErrorf(msgScanStagedAlone)
			}
			if o.maxDepth < 0 || o.maxSize < 0 {
				return usageErrorf(msgScanNegative)
			}
			if o.staged {
				return runScanStaged(cmd.Context(), f, o)
			}
			return runScan(cmd.Context(), f, o, args)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&o.fix, "fix", false, "move each key into the keychain and point .env files at the local endpoint")
	fl.BoolVar(&o.staged, "staged", false, "scan the files staged for the next git commit (the pre-commit hook)")
	fl.BoolVar(&o.asJSON, "json", false, "print the findings as JSON")
	fl.IntVar(&o.maxDepth, "max-depth", scan.DefaultMaxDepth, "how many directories deep to go below each PATH")
	fl.Int64Var(&o.maxSize, "max-size", scan.DefaultMaxSize, "the largest file read, in bytes")
	return cmd
}

// scanRoots is PATH..., else the home directory and config.json when it
// lies outside it.
func scanRoots(f *Factory, args []string) ([]string, error) {
	if len(args) > 0 {
		return args, nil
	}
	home := f.Getenv("HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf(msgScanNoHome, err)
		}
		home = h
	}
	roots := []string{home}
	if cfg, err := f.configPath(); err == nil && !strings.HasPrefix(cfg, home+string(os.PathSeparator)) {
		if _, err := os.Lstat(cfg); err == nil {
			roots = append(roots, cfg)
		}
	}
	return roots, nil
}

func runScan(ctx context.Context, f *Factory, o scanOptions, args []string) error {
	roots, err := scanRoots(f, args)
	if err != nil {
		return err
	}
	cfg, _ := f.configPath()
	rep, err := scan.Walk(ctx, roots, scan.Options{MaxDepth: o.maxDepth, MaxSize: o.maxSize, ConfigPath: cfg})
	if err != nil {
		return err
	}
	out := scanOutput{Notes: rep.Notes, Files: rep.Files}
	for _, fd := range rep.Findings {
		out.Findings = append(out.Findings, scanFinding{Finding: fd, Status: "found", Advice: adviceFor(fd)})
	}
	var fixErr error
	var said []string
	if o.fix {
		said, fixErr = fixFindings(ctx, f, out.Findings)
	}
	left := 0
	for _, sf := range out.Findings {
		if sf.Status == "found" || sf.Status == "left" {
			left++
		}
	}
	if o.asJSON {
		if err := writeJSON(f.IO.Out, out); err != nil {
			return err
		}
	} else {
		printScan(f, out, o.fix)
	}
	for _, s := range said {
		f.say("%s", s)
	}
	if fixErr != nil {
		return fixErr
	}
	if left > 0 {
		return &ExitCodeError{Code: ExitFailure}
	}
	return nil
}

// printScan lists the findings on stdout (path:line: hint (what)) and says
// what to do on stderr.
func printScan(f *Factory, out scanOutput, fixed bool) {
	for _, n := range out.Notes {
		f.say(msgScanSkipped, shownPath(n.Path), n.Reason)
	}
	left := 0
	for _, sf := range out.Findings {
		fmt.Fprintf(f.IO.Out, "%s:%d: %s (%s)\n", shownPath(sf.Path), sf.Line, sf.KeyHint, describeFinding(sf.Finding))
		switch sf.Status {
		case "fixed":
			f.say(msgScanRewrote, shownPath(sf.Path), sf.KeyHint, shownPath(sf.Backup))
		case "moved":
			f.say(msgScanMoved, sf.KeyHint, shownPath(sf.Path))
		default:
			left++
			f.say(msgScanAdvice, shownPath(sf.Path), sf.Line, sf.Advice)
		}
	}
	switch {
	case len(out.Findings) == 0:
		f.say(msgScanNoneFound, out.Files)
	case left == 0:
		f.say(msgScanNoneLeft)
	case !fixed:
		f.say(msgScanFound, len(out.Findings))
	default:
		f.say(msgScanLeft, left)
	}
}

func shownPath(p string) string { return safetext.Text(p, 0) }

func describeFinding(fd scan.Finding) string {
	what := map[scan.Kind]string{
		scan.KindConfig: "Torale config.json", scan.KindEnv: ".env file", scan.KindRC: "shell start-up file",
		scan.KindHistory: "history", scan.KindNotebook: "Jupyter notebook", scan.KindBackup: "backup made by scan --fix",
		scan.KindFile: "file",
	}[fd.Kind]
	if fd.Variable != "" {
		return safetext.Text(fd.Variable, safetext.MaxName) + " in a " + what
	}
	return what
}

// runScanStaged is the pre-commit hook: each staged file holding a real
// key is one sentence on stderr, and the commit is refused (exit 1).
func runScanStaged(ctx context.Context, f *Factory, o scanOptions) error {
	dir, err := os.Getwd()
	if err != nil {
		return err
	}
	rep, err := scan.Staged(ctx, dir, o.maxSize)
	if err != nil {
		return err
	}
	if o.asJSON {
		out := scanOutput{Notes: rep.Notes, Files: rep.Files}
		for _, fd := range rep.Findings {
			out.Findings = append(out.Findings, scanFinding{Finding: fd, Status: "found"})
		}
		if err := writeJSON(f.IO.Out, out); err != nil {
			return err
		}
	}
	for _, n := range rep.Notes {
		f.warn(msgScanNotScanned, shownPath(n.Path), n.Reason)
	}
	if len(rep.Findings) == 0 {
		return nil
	}
	for _, fd := range rep.Findings {
		fmt.Fprintf(f.IO.ErrOut, msgScanRefusing, prog, shownPath(fd.Path), fd.Line, fd.KeyHint)
	}
	f.say(msgScanStagedFix)
	return &ExitCodeError{Code: ExitFailure}
}
