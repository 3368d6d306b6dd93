package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/torale-ai/torale-cred/internal/safetext"
	"github.com/torale-ai/torale-cred/internal/toraleapi"
)

// The CLI's voice, in one place (age's cmd/age/tui.go habit):
//   - data (a key, export lines, JSON, tables) alone on stdout;
//   - everything for people on stderr;
//   - errors and warnings prefixed "torale-cred: ", one lower-case clause
//     (Go's voice; "No API key configured" keeps the official CLI's words)
//     that ends with the fix; progress and confirmations unprefixed, as
//     capitalised sentences;
//   - never a key: at most its hint (sk_...xyz89) or first 7 characters;
//   - never a name from outside raw (an executable, a unit, a URL, a
//     profile read from a file, a server's sentence): table cells go through
//     shown, and every sentence and status line through humanLines, so a
//     name holding escape sequences cannot repaint the terminal.
const prog = "torale-cred"

// Sentences more than one command says.
const (
	msgDaemonStuckFix = "Restart it (systemctl --user restart torale-cred, or stop the 'torale-cred daemon' process and start it again), then run this again."
	msgKeyAsArgument  = "the key was given as an argument: torale-cred never takes a key on the command line, where other users can read it in the process list, and it is now in your shell history (clear it, e.g. history -d, and consider rotating the key). Pipe it instead: printf %s \"$KEY\" | torale-cred login, or run torale-cred login and paste it at the hidden prompt"
)

// dashboardKeysFor is where a person manages keys by hand for the server
// at apiURL: Torale's own dashboard only for Torale's own API.
func dashboardKeysFor(apiURL string) string { return toraleapi.DashboardFor(apiURL) }

// shown is a name from outside for a table cell: escaped and bounded.
func shown(s string) string { return safetext.Text(s, safetext.MaxName) }

// humanLines is text for people with each line escaped (safetext.Text
// leaves escaped text as it is): the last guard for a name that reached a
// sentence unescaped. Line breaks stay line breaks.
func humanLines(s string) string { return safetext.Lines(s) }

// humanWriter writes each Write through humanLines, for a command whose
// every line is for people (status, doctor).
type humanWriter struct{ w io.Writer }

func (h humanWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(h.w, humanLines(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// say writes a sentence for people to stderr.
func (f *Factory) say(format string, a ...any) {
	fmt.Fprintln(f.IO.ErrOut, humanLines(fmt.Sprintf(format, a...)))
}

// warn writes a warning with the program prefix to stderr.
func (f *Factory) warn(format string, a ...any) {
	fmt.Fprintln(f.IO.ErrOut, prog+": warning: "+humanLines(fmt.Sprintf(format, a...)))
}

// printError writes err as one sentence with the program prefix; a usage
// error adds where to read the usage of the command that was run.
func printError(io *IOStreams, cmdPath string, err error) {
	msg := humanLines(err.Error())
	if errors.Is(err, errUsage) {
		msg = strings.TrimPrefix(msg, errUsage.Error()+": ")
		if cmdPath == "" {
			cmdPath = prog
		}
		fmt.Fprintf(io.ErrOut, "%s: %s\nRun '%s --help' for usage.\n", prog, msg, cmdPath)
		return
	}
	fmt.Fprintf(io.ErrOut, "%s: %s\n", prog, msg)
}
