package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/internal/paths"
	"github.com/torale-ai/torale-cred/internal/trust"
)

// check is one layer doctor looks at: ok, or what is wrong and the one
// command that fixes it. Skipped checks (not on this system) pass.
type check struct {
	Name    string `json:"check"`
	OK      bool   `json:"ok"`
	Skipped bool   `json:"skipped,omitempty"`
	Detail  string `json:"detail"`
	Fix     string `json:"fix,omitempty"`
}

func newDoctorCmd(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check every layer (D-Bus, Secret Service, daemon, socket, config.json, units, git) and say how to fix each failure",
		Long: `Checks, in order: the D-Bus session bus, the Secret Service on it and
whether its collection is locked, the daemon and its version, the socket's and
its directory's modes, ~/.torale's mode and owner, a plaintext key in
config.json, the systemd user units (or launchd agent), and git's credential
helper for the Torale hosts. For each failure it prints the one command that
fixes it. Never prints a key.

Exits 0 only when every check passes.`,
		Example: "  torale-cred doctor\n  torale-cred doctor --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			checks := runDoctor(cmd.Context(), f)
			failed := 0
			for _, c := range checks {
				if !c.OK {
					failed++
				}
			}
			if asJSON {
				if err := writeJSON(f.IO.Out, map[string]any{"ok": failed == 0, "checks": checks}); err != nil {
					return err
				}
			} else {
				// Details quote paths, units and git config values.
				out := humanWriter{f.IO.Out}
				for _, c := range checks {
					mark := "✓"
					switch {
					case c.Skipped:
						mark = "-"
					case !c.OK:
						mark = "✗"
					}
					fmt.Fprintf(out, "%s %-22s %s\n", mark, c.Name, c.Detail)
					if c.Fix != "" && !c.OK {
						fmt.Fprintf(out, "  %-22s fix: %s\n", "", c.Fix)
					}
				}
			}
			if failed > 0 {
				return &ExitCodeError{Code: ExitFailure} // each failure is on the screen with its fix
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

func runDoctor(ctx context.Context, f *Factory) []check {
	var out []check
	add := func(c check) { out = append(out, c) }

	add(checkBus(f))
	add(checkKeychain(ctx, f))
	di := f.daemon(ctx)
	dc := check{Name: "daemon", OK: di.Running, Detail: di.State}
	if !di.Running {
		dc.Fix = msgDoctorDaemonFix
		if runtime.GOOS == "darwin" {
			dc.Fix = msgDoctorServiceFixDarwin
		}
	}
	add(dc)
	add(checkSocket(di))
	cfg, _ := f.configPath()
	add(checkToraleDir(filepath.Dir(cfg)))
	cs := inspectConfig(cfg)
	pc := check{Name: "config.json", OK: !cs.PlaintextKey && cs.Problem == "", Detail: fmt.Sprintf(msgHoldsNoPlaintextKey, cs.Path)}
	switch {
	case cs.Problem != "":
		pc.Detail, pc.Fix = configProblem(cs), msgDoctorConfigFixProblem
	case cs.PlaintextKey:
		pc.Detail, pc.Fix = fmt.Sprintf(msgDoctorConfigPlaintext, cs.Path, cs.KeyHint), msgDoctorConfigFix
	case !cs.Exists:
		pc.Detail = fmt.Sprintf(msgDoesNotExist, cs.Path)
	}
	add(pc)
	add(checkEndpoint(ctx, f, cs))
	for _, c := range checkStores(ctx, f) {
		add(c)
	}
	add(checkUnits(ctx))
	add(checkGit(ctx))
	return out
}

// checkStores is one check per profile whose key lives beyond the
// keychain: the daemon's follower state when it runs, else one read here.
func checkStores(ctx context.Context, f *Factory) []check {
	be := f.Backend()
	infos, err := be.List(ctx)
	if err != nil {
		return nil
	}
	var out []check
	for _, in := range infos {
		if in.Store == nil {
			continue
		}
		c := check{Name: "store of " + in.Name, OK: true, Detail: in.Store.Where}
		if in.Store.Login != "" {
			c.Detail += fmt.Sprintf(msgStoreLogin, in.Store.Login)
		}
		state := in.Store.State
		if state == "" { // no daemon follows it: read it once here, learning its hint only
			state = "ok"
			if _, err := be.Stored(ctx, in.Name); err != nil {
				state = "unavailable: " + err.Error()
			}
		}
		if state != "ok" {
			c.OK = false
			c.Detail += ": " + state
			c.Fix = fmt.Sprintf(msgDoctorStoreFix, in.Name)
		} else if in.Store.Version > 0 {
			c.Detail += fmt.Sprintf(msgDoctorStoreVersion, in.Store.Version)
		}
		out = append(out, c)
	}
	return out
}

func checkBus(f *Factory) check {
	c := check{Name: "D-Bus session bus"}
	if runtime.GOOS != "linux" {
		c.OK, c.Skipped, c.Detail = true, true, fmt.Sprintf(msgDoctorNotUsedOn, runtime.GOOS)
		return c
	}
	// Found as the keychain finds it: the variable, else the user's own
	// $XDG_RUNTIME_DIR/bus or /run/user/UID/bus.
	addr := paths.SessionBus(f.Getenv)
	path, ok := strings.CutPrefix(addr, "unix:path=")
	if i := strings.IndexByte(path, ','); i >= 0 {
		path = path[:i]
	}
	c.Fix = msgDoctorBusFix
	switch {
	case addr == "":
		c.Detail = msgDoctorBusUnset
	case !ok:
		c.OK, c.Detail = true, fmt.Sprintf(msgDoctorBusNotProbed, addr)
	default:
		conn, err := net.DialTimeout("unix", path, time.Second)
		if err != nil {
			c.Detail = fmt.Sprintf(msgDoctorBusSilent, addr)
			return c
		}
		conn.Close()
		c.OK, c.Detail, c.Fix = true, fmt.Sprintf(msgDoctorBusAnswers, addr), ""
	}
	return c
}

func checkKeychain(ctx context.Context, f *Factory) check {
	c := check{Name: "Secret Service"}
	kc, err := f.keychain()
	if err != nil {
		c.Detail = err.Error()
		return c
	}
	err = kc.Ping(ctx)
	var ke *keychain.Error
	switch {
	case err == nil:
		c.OK, c.Detail = true, msgDoctorKeychainOK
	case errors.As(err, &ke):
		c.Detail, c.Fix = ke.Detail(), ke.Fix
		if ke.Fault == keychain.FaultLocked {
			c.Detail = msgDoctorKeychainLocked
		}
		if i := strings.Index(c.Detail, "; "); i >= 0 && c.Fix != "" {
			c.Detail = c.Detail[:i] // the fix has its own line
		}
	default:
		c.Detail = err.Error()
	}
	return c
}

func checkSocket(di daemonInfo) check {
	c := check{Name: "socket", OK: true}
	if di.Socket == "" {
		c.Skipped, c.Detail = true, msgDoctorNoSocketPath
		return c
	}
	dir := filepath.Dir(di.Socket)
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.Skipped, c.Detail = true, fmt.Sprintf(msgDoctorSocketDirNotYet, dir)
		return c
	case err != nil:
		c.OK, c.Detail = false, err.Error()
		return c
	}
	if err := trust.Info(dir, fi); err != nil || !fi.IsDir() || fi.Mode().Perm()&0o077 != 0 {
		c.OK = false
		c.Detail = fmt.Sprintf(msgDoctorSocketDirMode, dir, fi.Mode().Perm())
		c.Fix = fmt.Sprintf(msgDoctorSocketDirFix, dir)
		return c
	}
	si, err := os.Lstat(di.Socket)
	switch {
	case err != nil:
		c.Detail = fmt.Sprintf(msgDoctorSocketNotYet, dir)
	case si.Mode().Perm()&0o077 != 0:
		c.OK = false
		c.Detail = fmt.Sprintf(msgDoctorSocketMode, di.Socket, si.Mode().Perm())
		c.Fix = fmt.Sprintf(msgDoctorSocketFix, di.Socket)
	default:
		c.Detail = fmt.Sprintf(msgDoctorSocketOK, dir)
	}
	return c
}

func checkToraleDir(dir string) check {
	c := check{Name: filepath.Base(dir) + " directory"}
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.OK, c.Detail = true, fmt.Sprintf(msgDoesNotExist, dir)
		return c
	case err != nil:
		c.Detail = err.Error()
		return c
	}
	if err := trust.Dir(dir); err != nil {
		c.Detail, c.Fix = err.Error(), fmt.Sprintf(msgDoctorToraleDirFixOwner, dir, dir)
		return c
	}
	if fi.Mode().Perm()&0o077 != 0 {
		c.Detail = fmt.Sprintf(msgDoctorToraleDirMode, dir, fi.Mode().Perm())
		c.Fix = fmt.Sprintf(msgDoctorToraleDirFixMode, dir)
		return c
	}
	c.OK, c.Detail = true, fmt.Sprintf(msgDoctorToraleDirOK, dir)
	return c
}

func checkUnits(ctx context.Context) check {
	c := check{Name: "user service"}
	if runtime.GOOS != "linux" {
		c.OK, c.Skipped, c.Detail = true, true, msgDoctorUnitsElsewhere
		return c
	}
	if _, err := exec.LookPath("systemctl"); err != nil {
		c.OK, c.Skipped, c.Detail = true, true, msgDoctorNoSystemctl
		return c
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, "systemctl", "--user", "is-enabled", "torale-cred.socket").Output()
	state := strings.TrimSpace(string(out))
	switch {
	case state == "enabled" || state == "enabled-runtime" || state == "static" || state == "linked":
		c.OK, c.Detail = true, fmt.Sprintf(msgDoctorSocketUnitIs, state)
	case state == "" && err != nil:
		c.OK, c.Skipped, c.Detail = true, true, msgDoctorNoUserManager
	default:
		c.Detail = fmt.Sprintf(msgDoctorSocketUnitIs, state)
		c.Fix = msgDoctorUnitsFix
	}
	return c
}

func checkGit(ctx context.Context) check {
	c := check{Name: "git credential helper"}
	if _, err := exec.LookPath("git"); err != nil {
		c.OK, c.Skipped, c.Detail = true, true, msgDoctorNoGit
		return c
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	key := "credential." + credstore.DefaultAPIURL + ".helper"
	out, _ := exec.CommandContext(cctx, "git", "config", "--get-all", key).Output()
	vals := strings.Fields(string(out))
	for _, v := range vals {
		if v == gitHelperName || strings.HasSuffix(v, "git-credential-"+gitHelperName) {
			c.OK, c.Detail = true, fmt.Sprintf(msgDoctorGitAsks, credstore.DefaultAPIURL)
			return c
		}
	}
	if g, _ := exec.CommandContext(cctx, "git", "config", "--get-all", "credential.helper").Output(); strings.Contains(string(g), gitHelperName) {
		c.OK, c.Detail = true, msgDoctorGitAsksEveryHost
		return c
	}
	c.Detail, c.Fix = fmt.Sprintf(msgDoctorGitDoesNotAsk, credstore.DefaultAPIURL), msgDoctorGitFix
	return c
}

// checkEndpoint: the local endpoint answers where config.json sends the
// SDK (status's Endpoint line, with the fix when it does not).
func checkEndpoint(ctx context.Context, f *Factory, cs configStatus) check {
	es := inspectEndpoint(ctx, f)
	c := check{Name: "local endpoint", Detail: es.line()}
	switch es.State {
	case "on":
		c.OK = true
		if cs.LocalToken {
			c.Detail += msgDoctorEndpointToken
		}
	case "off", "not set up":
		c.OK, c.Skipped = true, true
	case "not answering":
		if !cs.LocalToken {
			c.OK, c.Skipped = true, true // nothing is sent there
			break
		}
		c.Detail = fmt.Sprintf(msgDoctorEndpointSilent, es.URL)
		c.Fix = msgDoctorEndpointFix
		if runtime.GOOS == "darwin" {
			c.Fix = msgDoctorServiceFixDarwin
		}
	default:
		c.Fix = msgDoctorEndpointFixState
	}
	return c
}
