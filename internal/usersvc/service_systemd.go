//go:build linux

package usersvc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/kardianos/service"

	"github.com/torale-ai/torale-cred/internal/atomicfile"
	"github.com/torale-ai/torale-cred/packaging"
)

// systemctlTimeout bounds each systemctl call: a wedged user bus must not
// hang the CLI.
const systemctlTimeout = 15 * time.Second

// systemdUser is a systemd user manager (systemctl --user). The service unit
// is written by kardianos/service (our unit as its SystemdScript); the socket
// unit, which kardianos does not know, is written next to it by us.
type systemdUser struct {
	f *Env
}

func newServiceManager(f *Env) (Manager, error) { return &systemdUser{f: f}, nil }

// unitDir is where kardianos writes a user unit: $HOME/.config/systemd/user.
// probe checks that the user manager reads it.
func (s *systemdUser) unitDir() (string, error) {
	home := s.f.Getenv("HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", errors.New("cannot find the home directory for the user units: set HOME")
		}
		home = h
	}
	return filepath.Join(home, ".config", "systemd", "user"), nil
}

// systemctl runs `systemctl --user args…` and returns its stdout; an error
// carries systemctl's own last line of stderr.
func (s *systemdUser) systemctl(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, systemctlTimeout)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, "systemctl", append([]string{"--user"}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("systemctl --user %s: %s", strings.Join(args, " "), lastLine(errOut.String(), err))
	}
	return out.String(), nil
}

func lastLine(s string, err error) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if l := strings.TrimSpace(lines[len(lines)-1]); l != "" {
		return l
	}
	return err.Error()
}

// probe asks the user manager for its unit search path: it fails when no
// manager is reachable (a container, an ssh session without one, systemd
// not installed), and it tells whether the manager reads dir.
func (s *systemdUser) probe(ctx context.Context, action, dir string) error {
	if _, err := exec.LookPath("systemctl"); err != nil {
		return &noServiceManagerError{action: action, manager: "systemd user manager", detail: "systemctl is not installed"}
	}
	out, err := s.systemctl(ctx, "show", "--property=UnitPath", "--value")
	if err != nil {
		detail := strings.Replace(err.Error(), "systemctl --user show --property=UnitPath --value", "systemctl --user", 1)
		return &noServiceManagerError{action: action, manager: "systemd user manager", detail: detail}
	}
	for _, p := range strings.Fields(out) {
		if filepath.Clean(p) == dir {
			return nil
		}
	}
	return fmt.Errorf("cannot %s the service: your systemd user manager does not read %s (its unit path is %s), where the service is installed; unset a custom XDG_CONFIG_HOME in its environment (systemctl --user show-environment) or run: torale-cred daemon",
		action, dir, strings.Join(strings.Fields(out), " "))
}

func (s *systemdUser) kardianos(executable, unit string) (service.Service, error) {
	if err := templateFree(unit); err != nil {
		return nil, err
	}
	for _, sys := range service.AvailableSystems() {
		if sys.String() == "linux-systemd" {
			cfg := kardianosConfig(strings.TrimSuffix(packaging.ServiceUnit, ".service"), executable, "SystemdScript", unit)
			return sys.New(noProgram{}, cfg)
		}
	}
	return nil, errors.New("this build of kardianos/service has no systemd support")
}

// fileChange is one file install wrote, with what to restore on failure.
type fileChange struct {
	path string
	old  []byte // nil: the file did not exist
}

func (s *systemdUser) Install(ctx context.Context) (err error) {
	exe, err := s.f.serviceExecutable()
	if err != nil {
		return err
	}
	unit, err := packaging.RenderSystemdService(exe)
	if err != nil {
		return err
	}
	dir, err := s.unitDir()
	if err != nil {
		return err
	}
	if err := s.probe(ctx, "install", dir); err != nil {
		return err
	}
	svcPath := filepath.Join(dir, packaging.ServiceUnit)
	sockPath := filepath.Join(dir, packaging.SocketUnit)
	svcOld, err := readIfExists(svcPath)
	if err != nil {
		return err
	}
	sockOld, err := readIfExists(sockPath)
	if err != nil {
		return err
	}

	// On any failure, put back the files as they were and forget the units
	// this run added: nothing half-installed.
	var changed []fileChange
	defer func() {
		if err == nil {
			return
		}
		for _, c := range changed {
			if c.old == nil {
				_, _ = s.systemctl(context.WithoutCancel(ctx), "disable", "--now", filepath.Base(c.path))
				_ = os.Remove(c.path)
			} else {
				_ = atomicfile.Write(c.path, c.old, 0o644)
			}
		}
		if len(changed) > 0 {
			_, _ = s.systemctl(context.WithoutCancel(ctx), "daemon-reload")
			s.f.did(Step{Kind: StepPutBack, Count: len(changed)})
		}
	}()

	// The socket first: the service Requires= it, and kardianos reloads the
	// manager right after writing the service.
	if sockOld == nil || string(sockOld) != packaging.SystemdSocket() {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", dir, err)
		}
		if err := atomicfile.Write(sockPath, []byte(packaging.SystemdSocket()), 0o644); err != nil {
			return err
		}
		changed = append(changed, fileChange{sockPath, sockOld})
		s.f.did(Step{Kind: StepWrote, Path: sockPath})
	} else {
		s.f.did(Step{Kind: StepUnchanged, Path: sockPath})
	}

	switch {
	case svcOld != nil && string(svcOld) == unit:
		s.f.did(Step{Kind: StepUnchanged, Path: svcPath})
		if _, err := s.systemctl(ctx, "enable", packaging.ServiceUnit); err != nil {
			return err
		}
	default:
		if svcOld != nil {
			// kardianos refuses to overwrite; a different file is an older
			// version or another binary's path, ours by name.
			if err := os.Remove(svcPath); err != nil {
				return fmt.Errorf("replacing %s: %w", svcPath, err)
			}
		}
		changed = append(changed, fileChange{svcPath, svcOld})
		k, err := s.kardianos(exe, unit)
		if err != nil {
			return err
		}
		// Writes the unit, runs systemctl --user enable and daemon-reload.
		if err := k.Install(); err != nil {
			return fmt.Errorf("installing %s: %w", svcPath, err)
		}
		kind := StepWroteService
		if svcOld != nil {
			kind = StepReplacedService
		}
		s.f.did(Step{Kind: kind, Path: svcPath, Exe: exe})
	}
	if _, err := s.systemctl(ctx, "daemon-reload"); err != nil {
		return err
	}
	if _, err := s.systemctl(ctx, "enable", "--now", packaging.SocketUnit); err != nil {
		return err
	}
	if svcOld != nil && string(svcOld) != unit {
		// A running daemon keeps the old ExecStart until restarted.
		if _, err := s.systemctl(ctx, "try-restart", packaging.ServiceUnit); err != nil {
			return err
		}
	}
	sock, _ := s.f.socketPath()
	s.f.did(Step{Kind: StepEnabled, Units: []string{packaging.SocketUnit, packaging.ServiceUnit}, Socket: sock})
	return nil
}

func (s *systemdUser) Uninstall(ctx context.Context) error {
	dir, err := s.unitDir()
	if err != nil {
		return err
	}
	svcPath := filepath.Join(dir, packaging.ServiceUnit)
	sockPath := filepath.Join(dir, packaging.SocketUnit)
	hasSvc, hasSock := exists(svcPath), exists(sockPath)
	if !hasSvc && !hasSock {
		s.f.did(Step{Kind: StepNoUnits, Units: []string{packaging.ServiceUnit, packaging.SocketUnit}, Path: dir})
		return nil
	}
	if err := s.probe(ctx, "uninstall", dir); err != nil {
		return err
	}
	if hasSock {
		if _, err := s.systemctl(ctx, "disable", "--now", packaging.SocketUnit); err != nil {
			return err
		}
	}
	if hasSvc {
		if _, err := s.systemctl(ctx, "stop", packaging.ServiceUnit); err != nil {
			return err
		}
		unit, err := os.ReadFile(svcPath)
		if err != nil {
			return err
		}
		exe, err := s.f.serviceExecutable()
		if err != nil {
			return err
		}
		k, err := s.kardianos(exe, string(unit))
		if err != nil {
			return err
		}
		// Runs systemctl --user disable, removes the file, daemon-reload.
		if err := k.Uninstall(); err != nil {
			return fmt.Errorf("removing %s: %w", svcPath, err)
		}
		s.f.did(Step{Kind: StepRemovedUnit, Path: svcPath})
	}
	if hasSock {
		if err := os.Remove(sockPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing %s: %w", sockPath, err)
		}
		if _, err := s.systemctl(ctx, "daemon-reload"); err != nil {
			return err
		}
		s.f.did(Step{Kind: StepRemovedUnit, Path: sockPath})
	}
	// The directories, only if that left them empty (install may have made them).
	_ = os.Remove(dir)
	_ = os.Remove(filepath.Dir(dir))
	return nil
}

// loaded fails with the fix when the manager knows no torale-cred.service
// (neither `service install` nor a package put one in its unit path).
func (s *systemdUser) loaded(ctx context.Context, action string) error {
	dir, err := s.unitDir()
	if err != nil {
		return err
	}
	if err := s.probe(ctx, action, dir); err != nil {
		return err
	}
	out, err := s.systemctl(ctx, "show", "--property=LoadState", "--value", packaging.ServiceUnit)
	if err != nil {
		return err
	}
	if strings.TrimSpace(out) != "loaded" {
		return fmt.Errorf("cannot %s the service: %s is not installed; run: torale-cred service install", action, packaging.ServiceUnit)
	}
	return nil
}

func (s *systemdUser) Start(ctx context.Context) error {
	if err := s.loaded(ctx, "start"); err != nil {
		return err
	}
	if _, err := s.systemctl(ctx, "start", packaging.SocketUnit, packaging.ServiceUnit); err != nil {
		return err
	}
	s.f.did(Step{Kind: StepStarted, Units: []string{packaging.SocketUnit, packaging.ServiceUnit}})
	return nil
}

func (s *systemdUser) Stop(ctx context.Context) error {
	if err := s.loaded(ctx, "stop"); err != nil {
		return err
	}
	// The socket too, or the next look-up would start the daemon again.
	if _, err := s.systemctl(ctx, "stop", packaging.SocketUnit, packaging.ServiceUnit); err != nil {
		return err
	}
	s.f.did(Step{Kind: StepStopped, Units: []string{packaging.SocketUnit, packaging.ServiceUnit}})
	return nil
}

func (s *systemdUser) Status(ctx context.Context) (State, error) {
	st := State{Manager: "systemd (user)", Files: []string{}}
	dir, err := s.unitDir()
	if err != nil {
		return st, err
	}
	if err := s.probe(ctx, "query", dir); err != nil {
		return st, err
	}
	for _, u := range []string{packaging.SocketUnit, packaging.ServiceUnit} {
		if p := filepath.Join(dir, u); exists(p) {
			st.Files = append(st.Files, p)
		}
		out, err := s.systemctl(ctx, "show", "--property=LoadState,ActiveState,SubState,UnitFileState,MainPID", u)
		if err != nil {
			return st, err
		}
		p := parseProperties(out)
		us := Unit{Name: u, Active: p["ActiveState"], Enabled: p["UnitFileState"]}
		if p["LoadState"] == "not-found" {
			us.Active, us.Enabled = "not-found", "not installed"
		} else if p["SubState"] != "" && p["SubState"] != p["ActiveState"] {
			us.Active += " (" + p["SubState"] + ")"
		}
		if us.Enabled == "" {
			us.Enabled = "unknown"
		}
		fmt.Sscan(p["MainPID"], &us.PID)
		st.Units = append(st.Units, us)
	}
	return st, nil
}

func parseProperties(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

func readIfExists(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return b, nil
}
