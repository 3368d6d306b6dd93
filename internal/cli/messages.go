package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/internal/safetext"
	"github.com/torale-ai/torale-cred/internal/scan"
	"github.com/torale-ai/torale-cred/internal/toraleapi"
	"github.com/torale-ai/torale-cred/internal/usersvc"
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

// printGitError is git-credential-torale's voice: its name and err as one
// line, escaped (git shows a helper's stderr on the user's terminal);
// withUsage adds its usage, for a mistake on its command line.
func printGitError(io *IOStreams, err error, withUsage bool) {
	if err == nil {
		return
	}
	msg := strings.TrimPrefix(safetext.Text(err.Error(), 0), errUsage.Error()+": ")
	if withUsage {
		msg += "\n" + gitHelperUsage
	}
	fmt.Fprintf(io.ErrOut, "%s: %s\n", GitHelperName, msg)
}

// Every sentence the CLI says to people is below, one section per command
// (help text stays with its command, as in gh): a command file names the
// sentence, this file words it, so the voice above is kept in one read.
// Left with their code: data (keys, JSON, export lines, table rows and
// cells), table headers, status-line labels ("Keychain:", "  key:") and
// state words ("on", "none", "left"), and the pre-commit hook's script;
// sentences of other packages (credstore, ipc, rotation) are theirs.

// Sentences more than one command says.
const (
	msgDaemonStuckFix = "Restart it (systemctl --user restart torale-cred, or stop the 'torale-cred daemon' process and start it again), then run this again."
	msgKeyAsArgument  = "the key was given as an argument: torale-cred never takes a key on the command line, where other users can read it in the process list, and it is now in your shell history (clear it, e.g. history -d, and consider rotating the key). Pipe it instead: printf %s \"$KEY\" | torale-cred login, or run torale-cred login and paste it at the hidden prompt"
	// A write refused or failed: store set, rotate, any write the daemon refuses.
	msgNothingChanged = "%w; nothing was changed"
	// exec and ssh: the program could not be run.
	msgRunning = "running %s: %w"
	// status and doctor: config.json, and doctor's ~/.torale.
	msgHoldsNoPlaintextKey = "%s holds no plaintext key"
	msgDoesNotExist        = "%s does not exist"
	// status and doctor: a remote store's line.
	msgStoreLogin = " (login: %s)"
	// login --verify and status --verify.
	msgKeyRefused = "the Torale API at %s refused the key (401 Invalid API key); generate a new one at %s"
)

// Every command: global flags and their environment variables.
const (
	msgBadKeychainTimeout = "TORALE_CRED_KEYCHAIN_TIMEOUT=%q is not a duration such as 3s or 1m"
	msgBadRotateAfterEnv  = "TORALE_CRED_ROTATE_AFTER: %s"
	msgBadPeriod          = "%q is not a rotation period: use days such as 60d or 90d, or a duration such as 36h, between 1m and 3650d"
	msgPeriodOutOfRange   = "rotation period %q is out of range: between 1m and 3650d"
)

// The daemon as every command reaches it (lookup.go): a write it refused,
// a read left for the keychain, and its state on status's and doctor's
// Daemon line.
const (
	msgNothingChangedDaemonStuck = "%w; nothing was changed. %s"
	msgReadingKeychainDirectly   = "%v; reading the keychain directly"
	msgDaemonNotAsked            = "not asked (TORALE_CRED_NO_DAEMON=1)"
	msgDaemonNotRunning          = "not running (no answer on %s)"
	msgDaemonNotAnswering        = "not answering on %s: %v"
	msgDaemonRunning             = "running on %s (version %s, pid %d)"
	msgDaemonNoWatch             = "; not moving plaintext keys (--no-watch)"
)

// token, exec, env: the look-up.
const (
	msgUsingPlaintextKey = "using the plaintext key in config.json, because %s"
	msgRotationDue       = "%s: the key %s for profile %q is %d days old (rotation was due on %s); run: torale-cred rotate --profile %s"
)

// login.
const (
	msgLoginVerified       = "Key is valid: authenticated as %s."
	msgLoginUnchanged      = "Profile %q already holds %s; nothing changed."
	msgLoginReplaced       = "Stored %s for profile %q in the keychain, replacing %s; %s."
	msgLoginStored         = "Stored %s for profile %q in the keychain."
	msgLoginPrompt         = "Paste your Torale API key (input is hidden): "
	msgLoginReadTerminal   = "reading the key from the terminal: %w"
	msgLoginReadStdin      = "reading the key from standard input: %w"
	msgLoginInputTooLong   = "%w: standard input is longer than any key; pipe exactly one key"
	msgLoginInputManyLines = "%w: the input holds more than one line; pipe exactly one key"
)

// login and rotate at the hidden prompt: Ctrl-C (exit 130, as a shell
// reports SIGINT) and Ctrl-D on an empty line.
var (
	errInterrupted = errors.New("interrupted at the prompt; nothing was stored")
	errAborted     = errors.New("no key was typed at the prompt (Ctrl-D or Enter alone); nothing was stored")
)

// logout.
const (
	msgLogoutRemovedPrevious = "Removed %s, which %s had replaced, from the keychain."
	msgLogoutNoPrevious      = "Profile %q keeps no replaced key; nothing changed."
	msgLogoutNoKey           = "%s: profile %q has no key in the keychain; nothing to remove\n"
	msgLogoutRemoved         = "Removed the key for profile %q from the keychain."
)

// exec.
const (
	msgExecNoCommand    = "exec needs a command to run: torale-cred exec -- COMMAND [ARG...]"
	msgExecDumpable     = "the key is held by a process other programs of yours can still read: %v"
	msgExecOnlyInDot    = "it is found only in the current directory through PATH; run it as ./%s"
	msgExecNoPermission = "permission denied; check that it is an executable file"
	msgExecNotFound     = "command not found; check its name and your PATH"
	msgExecCannotRun    = "cannot run it (%v)"
)

// env.
const (
	msgEnvBadShell = "--shell %q is not one of sh, fish, powershell"
	msgEnvOnTTY    = "%s: these lines change nothing by themselves; run: %s"
)

// evalHint is how env's lines are run in shell sh, for msgEnvOnTTY.
func evalHint(sh string) string {
	switch sh {
	case shellFish:
		return "torale-cred env --shell fish | source"
	case shellPowerShell:
		return "torale-cred env --shell powershell | Invoke-Expression"
	}
	return `eval "$(torale-cred env)"`
}

// status: each profile's values (after their labels) and the lines below.
const (
	msgStatusEnvKeyMalformed  = "TORALE_API_KEY does not look like a Torale key (sk_ and 32 to 128 letters, digits, - or _); it is used as it is, as the SDK would"
	msgStatusConfigUnreadable = "%s; a plaintext key in it cannot be moved until it is fixed"
	msgStatusConfigBadKey     = "its api_key is not a well-formed Torale key, so it is left in place"
	msgStatusStoreUnreadable  = "unknown: the %s store cannot be read: %s"
	msgStatusKeychainUnread   = "unknown: the keychain cannot be read (see Keychain below)"
	msgStatusFromStore        = "%s (from the %s store)"
	msgStatusFrom             = "%s (from %s)"
	msgStatusKeyGone          = "gone: the keychain no longer holds %s; run: torale-cred login --profile %s"
	msgStatusServingVersion   = ": ok, serving version %d"
	msgStatusStored           = "%s by %s, %d days ago"
	msgStatusRotationDue      = "due since %s; run: torale-cred rotate --profile %s"
	msgStatusRotateBy         = "by %s (in %d days)"
	msgStatusKept             = "%s, replaced %s by %s (%s); to bring it back, run: %s"
	msgStatusVerified         = "✓ Authenticated as %s"
	msgStatusSession          = "session %s to %s: %s through port %d there; pid %d, %s, ends by %s (torale-cred ssh --revoke %s)"
	msgStatusLocalToken       = "%s holds the local endpoint's token, no key"
	msgStatusPlaintextKey     = "%s still holds plaintext key %s; run: torale-cred import"
)

// describeVia is how a key that displaced another arrived (status's kept
// line).
func describeVia(source string) string {
	switch source {
	case credstore.SourceConfig:
		return "moved from config.json"
	case credstore.SourceGit:
		return "stored by git"
	case credstore.SourceLogin, "":
		return "stored by login"
	}
	return "stored by " + source
}

// list.
const (
	msgListNoProfile  = "No profile %q; run: torale-cred login --profile %s"
	msgListNoProfiles = "No profiles yet; run: torale-cred login"
	msgListGone       = "The keychain no longer holds profile %q's key; run: torale-cred login --profile %s"
)

// doctor: each check's detail and fix.
const (
	msgDoctorDaemonFix         = "systemctl --user enable --now torale-cred.socket torale-cred.service   (or run: torale-cred daemon)"
	msgDoctorServiceFixDarwin  = "torale-cred service install   (or run: torale-cred daemon)"
	msgDoctorConfigFixProblem  = "fix the file as the message says, then run: torale-cred import"
	msgDoctorConfigPlaintext   = "%s holds plaintext key %s"
	msgDoctorConfigFix         = "torale-cred import"
	msgDoctorStoreFix          = "fix the store as the message says, or choose another: torale-cred store set keychain|vault|credentials --profile %s"
	msgDoctorStoreVersion      = ": ok, version %d"
	msgDoctorNotUsedOn         = "not used on %s"
	msgDoctorBusFix            = "start one: dbus-run-session -- $SHELL   (a desktop login starts one for you)"
	msgDoctorBusUnset          = "DBUS_SESSION_BUS_ADDRESS is not set and no bus of yours is in $XDG_RUNTIME_DIR or /run/user/UID"
	msgDoctorBusNotProbed      = "at %s (not a unix:path= address; not probed)"
	msgDoctorBusSilent         = "nothing answers at %s"
	msgDoctorBusAnswers        = "answers at %s"
	msgDoctorKeychainOK        = "answers, collection unlocked"
	msgDoctorKeychainLocked    = "the default collection is locked"
	msgDoctorNoSocketPath      = "no socket path"
	msgDoctorSocketDirNotYet   = "%s does not exist yet (the daemon or systemd creates it 0700)"
	msgDoctorSocketDirMode     = "%s is mode %#o; it must be yours and 0700"
	msgDoctorSocketDirFix      = "chmod 700 %s"
	msgDoctorSocketNotYet      = "%s is 0700; no socket in it yet"
	msgDoctorSocketMode        = "%s is mode %#o (others are refused by the peer check, but it should be 0600)"
	msgDoctorSocketFix         = "chmod 600 %s   (systemd: SocketMode=0600 in torale-cred.socket)"
	msgDoctorSocketOK          = "%s is 0700 and the socket 0600"
	msgDoctorToraleDirFixOwner = "check who wrote it; then: chown $USER %s && chmod 700 %s"
	msgDoctorToraleDirMode     = "%s is mode %#o: a plaintext key the official CLI writes there is readable by others until it is moved"
	msgDoctorToraleDirFixMode  = "chmod 700 %s   (a running daemon does this itself at once; none has done it here)"
	msgDoctorToraleDirOK       = "%s is yours and 0700"
	msgDoctorUnitsElsewhere    = "see: torale-cred service status"
	msgDoctorNoSystemctl       = "systemctl is not installed: run torale-cred daemon yourself"
	msgDoctorSocketUnitIs      = "torale-cred.socket is %s"
	msgDoctorNoUserManager     = "no systemd user manager answers here"
	msgDoctorUnitsFix          = "torale-cred service install   (or, from the package: systemctl --user enable --now torale-cred.socket torale-cred.service)"
	msgDoctorNoGit             = "git is not installed"
	msgDoctorGitAsks           = "git asks torale-cred for %s"
	msgDoctorGitAsksEveryHost  = "git asks torale-cred for every host (setup-git would scope it to Torale's)"
	msgDoctorGitDoesNotAsk     = "git does not ask torale-cred for %s"
	msgDoctorGitFix            = "torale-cred setup-git"
	msgDoctorEndpointToken     = "; config.json holds its local token, so a bare Torale() client works through it"
	msgDoctorEndpointSilent    = "%s does not answer, and config.json sends the SDK there with its local token: every Torale() client fails with \"connection refused\""
	msgDoctorEndpointFix       = "systemctl --user enable --now torale-cred.service   (or run: torale-cred daemon)"
	msgDoctorEndpointFixState  = "check state.json as the message says"
)

// setup-git.
const (
	msgSetupGitForceAlone   = "--force only goes with --pre-commit (it replaces another program's hook)"
	msgSetupGitAlready      = "git already asks torale-cred for %s."
	msgSetupGitReplaced     = "git now asks torale-cred for %s (replacing %d other helper setting(s) for that host)."
	msgSetupGitAsks         = "git now asks torale-cred for %s."
	msgSetupGitHelperAbsent = "git-credential-torale is not on PATH, so git cannot run it yet; put it next to torale-cred in a directory on PATH"
	msgSetupGitNothing      = "git does not ask torale-cred for any host; nothing to remove."
	msgSetupGitRemoved      = "git no longer asks torale-cred for %s."
	msgGitConfigFailed      = "git config failed: %s"
	msgCannotRunGit         = "cannot run git (%v); install git and try again"
)

// errGitConfigMissing: git config exits 1 when the key is not set (or the
// file does not exist) and 5 when --unset finds nothing.
var errGitConfigMissing = errors.New("git config: no such key")

// setup-git --pre-commit (the hook's own sentence is in its script,
// preCommitHook, where sh says it).
const (
	msgHookNoRepo       = "not in a git repository: run torale-cred setup-git --pre-commit inside the repository to protect"
	msgHookReading      = "reading %s: %w"
	msgHookNotOurs      = "%s is not torale-cred's hook; nothing to remove."
	msgHookRemoving     = "removing %s: %w"
	msgHookPuttingBack  = "putting back the hook kept at %s: %w"
	msgHookRemovedBack  = "Removed torale-cred's pre-commit hook and put back the one it replaced (%s)."
	msgHookRemoved      = "Removed torale-cred's pre-commit hook (%s)."
	msgHookAlready      = "torale-cred's pre-commit hook is already installed (%s)."
	msgHookAnother      = "%s is another program's pre-commit hook, left as it is; add the line 'torale-cred scan --staged || exit 1' to it, or replace it (kept as %s): torale-cred setup-git --pre-commit --force"
	msgHookKeepingAside = "keeping the other hook aside: %w"
	msgHookKeptAside    = "Kept the other pre-commit hook as %s."
	msgHookCreatingDir  = "creating %s: %w"
	msgHookInstalled    = "Installed torale-cred's pre-commit hook (%s): a commit whose staged files hold a real Torale key is refused."
)

// import.
const (
	msgImportMoved    = "Moved %s from %s into the keychain for profile %q; the file no longer holds it."
	msgImportReplaced = "It replaced %s, which is not lost: %s."
	msgImportNothing  = "Nothing to import: %s."
)

// rotate.
const (
	msgRotateOnlyPlaintext = "%w: profile %q has no key in the keychain, only a plaintext one in config.json; run torale-cred import first, then rotate"
	msgRotateRemoteStore   = "%s (a new version: every machine following it takes it within seconds)"
	msgRotateEnvKeySet     = "%s: note: TORALE_API_KEY is set and takes precedence; rotate replaces the key stored for profile %q, not that one."
	msgRotatePastePrompt   = "Or paste the new key here once you have it (input is hidden; Enter alone stops): "
	msgRotatePasted        = "Stored %s for profile %q in the keychain; it replaces %s."
	msgRotateOldStillLive  = "%s: note: the old key %s is still active on the server; revoke it at %s."
	msgRotated             = "Rotated profile %q: %s replaces %s; the next rotation is due in %s."
	msgRotateEnvKeyOld     = "%s: note: TORALE_API_KEY in this shell still holds the old, now revoked key; unset it or run: export TORALE_API_KEY=\"$(torale-cred token)\""
)

// rotate's "who used this key", from the audit trail.
const (
	msgUsedByUnreadable = "! the audit trail could not be read (%v), so which programs used %s is unknown"
	msgUsedByNone       = "the audit trail shows no program that used %s in the last %d days"
	msgUsedByProgram    = "  %s%s, %s, last %s"
	msgUsedByUnits      = " in %s"
)

// msgUsedBy heads rotate's list of the n programs that used hint.
func msgUsedBy(n int, hint string, days int) string {
	noun := "programs"
	if n == 1 {
		noun = "program"
	}
	return fmt.Sprintf("these %d %s used %s in the last %d days; restart or update them once the new key is stored:", n, noun, hint, days)
}

// msgTimes is how often a program used a key: "once", "3 times".
func msgTimes(n int) string {
	if n == 1 {
		return "once"
	}
	return fmt.Sprintf("%d times", n)
}

// audit.
const (
	msgAuditBadSince   = "%q is not a period or a date: use 7d, 36h or 2026-11-01"
	msgAuditReading    = "reading the audit trail in %s: %w"
	msgAuditBadLines   = "%d line(s) of the audit trail are not records (a line torn by a crash, or an edit); they were skipped"
	msgAuditNone       = "No key was handed out since %s."
	msgAuditNotWritten = "the audit trail could not be written (%v); the key was handed out all the same"
)

// policy.
const (
	msgPolicySetArgs    = "policy set takes a profile and a mode: allow EXE..., confirm or open"
	msgPolicyNoExes     = "policy %s takes no executables"
	msgPolicyOpen       = "Profile %q hands its key to any program of yours (policy open)."
	msgPolicyAllow      = "Profile %q hands its key only to %s (policy allow)."
	msgPolicyConfirm    = "Profile %q asks on the desktop before handing its key to a program not allowed yet (policy confirm)."
	msgPolicyResolvesTo = " (now %s)"
	msgPolicyRemoteArgs = "policy remote takes a profile and a rule: allow, confirm or deny"
	msgPolicyRemoteRule = "the remote rule is allow, confirm or deny, not %s"
	msgPolicyRemoteSet  = "Profile %q: requests from another host through torale-cred ssh: %s."
	msgPolicyNone       = "Every profile is open: any program of yours may receive its key. Set one: torale-cred policy set PROFILE allow EXE..."
)

// endpoint: why it is not on (status's Endpoint line too), and reissue.
const (
	msgEndpointNotSetUp     = "the daemon has not run with it yet; start it: torale-cred service start (or torale-cred daemon)"
	msgEndpointNotAnswering = "the SDK's requests fail with \"connection refused\" until the daemon runs; start it: torale-cred service start (or torale-cred daemon)"
	msgEndpointOff          = "the daemon runs with --no-endpoint; config.json holds no key, so the SDK needs TORALE_API_KEY (torale-cred exec -- CMD)"
	msgEndpointOwnURLNone   = "none (the profile's own URL, else %s)"
	msgEndpointTokenNotHeld = "config.json does not hold it; put it where a program needs it"
	msgEndpointTokenHeld    = "config.json now holds it"
	msgEndpointReissued     = "Issued a new local token %s for profile %q; the old one no longer works; %s."
)

// scan.
const (
	msgScanStagedAlone = "--staged reads what git would commit: it takes no PATH and no --fix"
	msgScanNegative    = "--max-depth and --max-size take a positive number"
	msgScanNoHome      = "no home directory to scan (%w); name the directories: torale-cred scan PATH"
	msgScanSkipped     = "Skipped %s: %s."
	msgScanRewrote     = "Rewrote %s: TORALE_API_KEY is now the local token and TORALE_API_URL the local endpoint; %s is in the keychain. The file as it was, key included, is kept at %s (0600): delete it once your program works."
	msgScanMoved       = "Moved %s from %s into the keychain (as torale-cred import does)."
	msgScanAdvice      = "  %s:%d: %s"
	msgScanNoneFound   = "No real Torale key found in the %d file(s) read."
	msgScanNoneLeft    = "No real Torale key is left in the files read."
	msgScanFound       = "Found %d real Torale key(s) in plaintext. torale-cred scan --fix moves them into the keychain and points .env files at the local endpoint; a key that was in a history or a notebook should be rotated: torale-cred rotate."
	msgScanLeft        = "%d key(s) are left in plaintext; each line above says what to do."
	msgScanNotScanned  = "%s was not scanned: %s"
	msgScanRefusing    = "%s: refusing the commit: %s line %d holds a real Torale API key (%s)\n"
	msgScanStagedFix   = "Take the key out of the file and stage it again (git add), or unstage the file (git restore --staged FILE). Keep the key in the keychain (torale-cred login); a program can use the local endpoint (torale-cred scan --fix rewrites a .env file). If the key was ever pushed, rotate it: torale-cred rotate. To commit anyway: git commit --no-verify."
)

// adviceFor is what to do about a key found in fd's kind of file.
func adviceFor(fd scan.Finding) string {
	switch fd.Kind {
	case scan.KindConfig:
		return "torale-cred scan --fix (or torale-cred import) moves it into the keychain"
	case scan.KindEnv:
		if fd.Variable == scan.VarKey {
			return "torale-cred scan --fix moves it into the keychain and points the file at the local endpoint"
		}
		return "it is not TORALE_API_KEY, so scan --fix leaves it: take it out by hand (torale-cred login stores it)"
	case scan.KindRC:
		return "delete the line (ToraleClient() reads the local token from config.json; torale-cred exec -- CMD gives one command the key); torale-cred scan --fix stores the key first"
	case scan.KindHistory:
		return "a history keeps what was typed: rotate the key (torale-cred rotate), then delete the line from the history"
	case scan.KindNotebook:
		return "a notebook (and its outputs) travels with the file: rotate the key (torale-cred rotate) and clear the cell and its output"
	case scan.KindBackup:
		return "a backup scan --fix made before rewriting a file: delete it once your program works through the local endpoint"
	}
	return "take the key out of the file; if the file was ever shared, rotate the key (torale-cred rotate)"
}

// scan --fix: what became of each finding it left, and why .env files
// cannot be pointed at the endpoint.
const (
	msgFixNotWatchedConfig = "not the watched config.json: move it with torale-cred import --torale-config %s"
	msgFixReplaced         = "Stored %s for profile %q, replacing %s; %s."
	msgFixAnotherKey       = "it holds another key than the one profile %q takes in this run; fix it with a profile of its own: torale-cred scan --fix --profile NAME %s"
	msgFixRCStored         = "%s is in the keychain now (profile %q); delete the line (ToraleClient() reads the local token from config.json)"
	msgFixNotRewritten     = "not rewritten: %s"
	msgFixStateUnreadable  = "state.json cannot be read: %v"
	msgFixEndpointOff      = "the local endpoint is off (daemon --no-endpoint); use torale-cred exec -- CMD instead, or turn the endpoint on"
	msgFixEndpointNotSetUp = "the local endpoint is not set up yet; start the daemon (torale-cred service start, or torale-cred daemon), then run torale-cred scan --fix again"
	msgFixTokenUnreadable  = "the local token cannot be read: %v"
)

// restore.
const (
	msgRestoreDaemonRunning = "the daemon is running and would move the key out of config.json again at once; stop it first (torale-cred service stop, or stop 'torale-cred daemon'), then run torale-cred restore again"
	msgRestoreAlready       = "%s already holds %s for profile %q; nothing changed."
	msgRestorePlaintext     = "%s now holds the plaintext key %s of profile %q, readable by every program you run; the keychain keeps its copy (torale-cred logout removes it)"
	msgRestoreNoURL         = "no api_url (the SDK's default)"
	msgRestoreURL           = "api_url %s"
	msgRestored             = "Restored %s into %s with %s."
)

// ssh. (ssh_other.go keeps its one sentence: it is built only off Unix,
// where a constant here would be unused and staticcheck runs on Linux.)
const (
	msgSSHRevokeArgs    = "ssh --revoke takes at most a session id"
	msgSSHNoHost        = "ssh takes a host: torale-cred ssh HOST [SSH ARGS...]"
	msgSSHBadTTL        = "--ttl is between 1s and %s"
	msgSSHNeedsDaemon   = "%w; remote sessions live in the daemon: start it (torale-cred service start, or torale-cred daemon)"
	msgSSHNotInstalled  = "ssh is not installed (or not on PATH): %w"
	msgSSHSession       = "remote session %s to %s: profile %s through port %d there, until ssh exits or %s"
	msgSSHNoSuchSession = "no live remote session has the id %s (torale-cred status lists them)"
	msgSSHEndedOne      = "Ended 1 remote session: its token works no more."
	msgSSHEnded         = "Ended %d remote sessions."
)

// store.
const (
	msgStoreSetArgs          = "store set takes one store: keychain, vault or credentials"
	msgStoreCredentialsFlags = "the credentials store takes --credential only"
	msgStoreKeychainFlags    = "the keychain store takes no options"
	msgStoreUnknown          = "the store is keychain, vault or credentials, not %q"
	msgStoreReadsVersion     = "Profile %q now reads its key from %s: %s, version %d."
	msgStoreReads            = "Profile %q now reads its key from %s: %s."
	msgStoreKeychainEmpty    = "Profile %q now reads its key from the keychain, which holds none; run: torale-cred login --profile %s"
	msgStoreNotRead          = "Profile %q now reads its key from %s (not read now)."
	msgStoreCopyRemoved      = "This machine's keychain copy of %s is deleted: %s holds the key alone."
	msgStoreCopyShelved      = "This machine's keychain held another key, %s: it is kept as the previous key (torale-cred login --previous --profile %s brings it back) and no longer served."
	msgStoreCopyUnchecked    = "this machine's keychain did not answer whether it holds a copy of profile %q's key (%v); any copy is not served while the profile reads %s; to delete one, run the same torale-cred store set command again once the keychain answers"
	msgStoreCopyLeft         = "this machine's keychain still holds a copy of profile %q's key, which could not be deleted (%v); it is not served while the profile reads %s; run the same torale-cred store set command again once the keychain answers, and it is deleted"
	msgStoreVaultToken       = "the daemon logs in with VAULT_TOKEN from its own environment, which a user service does not have; for the service, use --token-file (Vault Agent's sink) or AppRole"
	msgStoreCredentials      = "The service reads it from $CREDENTIALS_DIRECTORY/%s; see the README's recipe for a headless system service (LoadCredential=)."
)

// service: status's lines, and each step install, uninstall, start and
// stop report (usersvc.Step, worded by msgServiceStep).
const (
	msgServiceNoSubcommand  = "service needs a subcommand: install, uninstall, start, stop or status"
	msgServiceNoFiles       = "none (not installed by 'torale-cred service install')"
	msgServiceDaemonOutside = "pid %d answers on %s outside the service manager (started by hand?); stop it before relying on the service"
	msgServiceDaemonAnswers = "pid %d answers on %s"
	msgServiceDaemonSilent  = "nothing answers on %s"
	msgServiceUnchanged     = "Unchanged %s"
	msgServiceStarted       = "Started %s."
	msgServiceStopped       = "Stopped %s until the next start or login."
	// systemd.
	msgServiceWrote           = "Wrote %s"
	msgServiceWroteService    = "Wrote %s (ExecStart=%s daemon)"
	msgServiceReplacedService = "Replaced %s (ExecStart=%s daemon)"
	msgServicePutBack         = "Install failed; put back %d unit file(s) as they were."
	msgServiceEnabled         = "Enabled %s (listening on %s) and %s: the daemon starts on the first look-up and at login.\nStart it now: torale-cred service start · check: torale-cred service status · logs: journalctl --user -u %s"
	msgServiceNoUnits         = "Not installed: no %s in %s; nothing to remove."
	msgServiceRemovedUnit     = "Stopped, disabled and removed %s"
	// launchd.
	msgServiceWroteAgent    = "Wrote %s (runs %s daemon)"
	msgServiceLoaded        = "Loaded %s into %s: it runs now and at every login; logs: %s"
	msgServiceAlreadyLoaded = "%s is already loaded in %s."
	msgServiceNoAgent       = "Not installed: no %s; nothing to remove."
	msgServiceUnloaded      = "Stopped and unloaded %s"
	msgServiceRemovedAgent  = "Removed %s (the log %s stays)"
	msgServiceNotRunning    = "%s is not running."
)

// msgServiceStep words a step of a service command. Its paths come from
// outside (the executable, $HOME): each is escaped whole, line breaks too,
// so a path cannot start a line of its own.
func msgServiceStep(s usersvc.Step) string {
	units := strings.Join(s.Units, " and ")
	path, exe, log := shownPath(s.Path), shownPath(s.Exe), shownPath(s.Log)
	switch s.Kind {
	case usersvc.StepUnchanged:
		return fmt.Sprintf(msgServiceUnchanged, path)
	case usersvc.StepStarted:
		return fmt.Sprintf(msgServiceStarted, units)
	case usersvc.StepStopped:
		return fmt.Sprintf(msgServiceStopped, units)
	case usersvc.StepWrote:
		return fmt.Sprintf(msgServiceWrote, path)
	case usersvc.StepWroteService:
		return fmt.Sprintf(msgServiceWroteService, path, exe)
	case usersvc.StepReplacedService:
		return fmt.Sprintf(msgServiceReplacedService, path, exe)
	case usersvc.StepPutBack:
		return fmt.Sprintf(msgServicePutBack, s.Count)
	case usersvc.StepEnabled:
		socketUnit, serviceUnit := s.Units[0], s.Units[1]
		return fmt.Sprintf(msgServiceEnabled, socketUnit, shownPath(s.Socket), serviceUnit, serviceUnit)
	case usersvc.StepNoUnits:
		return fmt.Sprintf(msgServiceNoUnits, strings.Join(s.Units, " or "), path)
	case usersvc.StepRemovedUnit:
		return fmt.Sprintf(msgServiceRemovedUnit, path)
	case usersvc.StepWroteAgent:
		return fmt.Sprintf(msgServiceWroteAgent, path, exe)
	case usersvc.StepLoaded:
		return fmt.Sprintf(msgServiceLoaded, units, s.Domain, log)
	case usersvc.StepAlreadyLoaded:
		return fmt.Sprintf(msgServiceAlreadyLoaded, units, s.Domain)
	case usersvc.StepNoAgent:
		return fmt.Sprintf(msgServiceNoAgent, path)
	case usersvc.StepUnloaded:
		return fmt.Sprintf(msgServiceUnloaded, units)
	case usersvc.StepRemovedAgent:
		return fmt.Sprintf(msgServiceRemovedAgent, path, log)
	case usersvc.StepNotRunning:
		return fmt.Sprintf(msgServiceNotRunning, units)
	}
	return "" // no kind usersvc reports
}

// git-credential-torale's command line (its help is gitHelperUsage).
const (
	msgGitProfileNeedsName = "--profile needs a profile name"
	msgGitUnknownOption    = "unknown option %q"
	msgGitOneOperation     = "one operation expected, got %q and %q"
	msgGitNoOperation      = "no operation given"
)

// daemon.
const (
	msgDaemonBadCacheTTL    = "TORALE_CRED_CACHE_TTL=%q is not a duration such as 30s"
	msgDaemonBadConfirmWait = "TORALE_CRED_CONFIRM_WAIT=%q is not a duration between 1s and 30s"
)
