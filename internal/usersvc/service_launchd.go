//go:build darwin

package usersvc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kardianos/service"

	"github.com/torale-ai/torale-cred/packaging"
)

const launchctlTimeout = 15 * time.Second

// launchdAgent is a per-user LaunchAgent in the GUI session (gui/$UID), the
// only place that can read the login keychain. kardianos/service writes the
// plist (ours, as its LaunchdConfig); loading and unloading use
// `launchctl bootstrap/bootout`, not the deprecated load/unload kardianos
// would run.
type launchdAgent struct {
	f *Env
}

func newServiceManager(f *Env) (Manager, error) { return &launchdAgent{f: f}, nil }

// home is the directory kardianos writes the agent under (the account's,
// which launchd also uses), so logs and plist agree.
func (l *launchdAgent) home() (string, error) {
	if u, err := user.Current(); err == nil && u.HomeDir != "" {
		return u.HomeDir, nil
	}
	if h := l.f.Getenv("HOME"); h != "" {
		return h, nil
	}
	return "", errors.New("cannot find the home directory for the LaunchAgent: set HOME")
}

func (l *launchdAgent) plistPath(home string) string {
	return filepath.Join(home, "Library", "LaunchAgents", packaging.LaunchdLabel+".plist")
}

// logPath is where the plist sends the daemon's output
// (packaging/launchd/ai.torale.cred.plist).
func (l *launchdAgent) logPath(home string) string {
	return filepath.Join(home, "Library", "Logs", "torale-cred.log")
}

func (l *launchdAgent) domain() string { return "gui/" + strconv.Itoa(os.Getuid()) }
func (l *launchdAgent) target() string { return l.domain() + "/" + packaging.LaunchdLabel }

func (l *launchdAgent) launchctl(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, launchctlTimeout)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, "launchctl", args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errOut.String())
		if msg == "" {
			msg = strings.TrimSpace(out.String())
		}
		if msg == "" {
			msg = err.Error()
		}
		return out.String(), fmt.Errorf("launchctl %s: %s", strings.Join(args, " "), msg)
	}
	return out.String(), nil
}

// probe fails outside a GUI login session (ssh without one, a CI runner):
// there is no gui/$UID domain to load an agent into.
func (l *launchdAgent) probe(ctx context.Context, action string) error {
	if _, err := l.launchctl(ctx, "print", l.domain()); err != nil {
		return &noServiceManagerError{action: action, manager: "launchd GUI session (log in at the Mac's screen)", detail: err.Error()}
	}
	return nil
}

func (l *launchdAgent) loaded(ctx context.Context) (string, bool) {
	out, err := l.launchctl(ctx, "print", l.target())
	return out, err == nil
}

func (l *launchdAgent) Install(ctx context.Context) error {
	exe, err := l.f.serviceExecutable()
	if err != nil {
		return err
	}
	home, err := l.home()
	if err != nil {
		return err
	}
	plist, err := packaging.RenderLaunchdPlist(exe, home)
	if err != nil {
		return err
	}
	if err := templateFree(plist); err != nil {
		return err
	}
	if err := l.probe(ctx, "install"); err != nil {
		return err
	}
	path := l.plistPath(home)
	old, err := os.ReadFile(path)
	switch {
	case err == nil && string(old) == plist:
		l.f.did(Step{Kind: StepUnchanged, Path: path})
	case err == nil || errors.Is(err, fs.ErrNotExist):
		if err == nil {
			// An older version or another binary's path: unload it, replace it.
			if _, ok := l.loaded(ctx); ok {
				if _, err := l.launchctl(ctx, "bootout", l.target()); err != nil {
					return err
				}
			}
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("replacing %s: %w", path, err)
			}
		}
		if err := os.MkdirAll(filepath.Dir(l.logPath(home)), 0o755); err != nil {
			return err
		}
		var k service.Service
		if k, err = service.New(noProgram{}, kardianosConfig(packaging.LaunchdLabel, exe, "LaunchdConfig", plist)); err != nil {
			return err
		}
		if err := k.Install(); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		l.f.did(Step{Kind: StepWroteAgent, Path: path, Exe: exe})
	default:
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if _, ok := l.loaded(ctx); !ok {
		if _, err := l.launchctl(ctx, "bootstrap", l.domain(), path); err != nil {
			if old == nil {
				_ = os.Remove(path) // nothing half-installed
			}
			return err
		}
		l.f.did(Step{Kind: StepLoaded, Units: []string{packaging.LaunchdLabel}, Domain: l.domain(), Log: l.logPath(home)})
	} else {
		l.f.did(Step{Kind: StepAlreadyLoaded, Units: []string{packaging.LaunchdLabel}, Domain: l.domain()})
	}
	return nil
}

func (l *launchdAgent) Uninstall(ctx context.Context) error {
	home, err := l.home()
	if err != nil {
		return err
	}
	path := l.plistPath(home)
	_, isLoaded := l.loaded(ctx)
	if !exists(path) && !isLoaded {
		l.f.did(Step{Kind: StepNoAgent, Path: path})
		return nil
	}
	if isLoaded {
		if _, err := l.launchctl(ctx, "bootout", l.target()); err != nil {
			return err
		}
		l.f.did(Step{Kind: StepUnloaded, Units: []string{packaging.LaunchdLabel}})
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	l.f.did(Step{Kind: StepRemovedAgent, Path: path, Log: l.logPath(home)})
	return nil
}

func (l *launchdAgent) Start(ctx context.Context) error {
	if err := l.probe(ctx, "start"); err != nil {
		return err
	}
	home, err := l.home()
	if err != nil {
		return err
	}
	path := l.plistPath(home)
	if _, ok := l.loaded(ctx); ok {
		if _, err := l.launchctl(ctx, "kickstart", l.target()); err != nil {
			return err
		}
	} else {
		if !exists(path) {
			return fmt.Errorf("cannot start the service: %s is not installed; run: torale-cred service install", path)
		}
		if _, err := l.launchctl(ctx, "bootstrap", l.domain(), path); err != nil {
			return err
		}
	}
	l.f.did(Step{Kind: StepStarted, Units: []string{packaging.LaunchdLabel}})
	return nil
}

func (l *launchdAgent) Stop(ctx context.Context) error {
	if _, ok := l.loaded(ctx); !ok {
		l.f.did(Step{Kind: StepNotRunning, Units: []string{packaging.LaunchdLabel}})
		return nil
	}
	// bootout, not kill: KeepAlive would restart a killed daemon.
	if _, err := l.launchctl(ctx, "bootout", l.target()); err != nil {
		return err
	}
	l.f.did(Step{Kind: StepStopped, Units: []string{packaging.LaunchdLabel}})
	return nil
}

func (l *launchdAgent) Status(ctx context.Context) (State, error) {
	st := State{Manager: "launchd (" + l.domain() + ")", Files: []string{}}
	home, err := l.home()
	if err != nil {
		return st, err
	}
	if p := l.plistPath(home); exists(p) {
		st.Files = append(st.Files, p)
	}
	us := Unit{Name: packaging.LaunchdLabel, Active: "not running", Enabled: "not loaded"}
	if out, ok := l.loaded(ctx); ok {
		us.Enabled = "loaded"
		for _, line := range strings.Split(out, "\n") {
			k, v, ok := strings.Cut(strings.TrimSpace(line), " = ")
			switch {
			case !ok:
			case k == "state":
				us.Active = v
			case k == "pid":
				us.PID, _ = strconv.Atoi(v)
			}
		}
	}
	st.Units = append(st.Units, us)
	return st, nil
}
