package cli

import (
	"context"
	"runtime"
	"strings"
	"testing"

	"github.com/torale-ai/torale-cred/internal/usersvc"
)

// A service path from outside ($HOME here; the executable, the socket
// elsewhere) holding a CR and an erase-line is printed escaped, on one line.
func TestServiceSaysPathsEscaped(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("uninstall reads $HOME on Linux only (launchd: the account's home)")
	}
	base := displayEnv(t)
	getenv := func(k string) string {
		if k == "HOME" {
			return "/tmp/a\r\x1b[2Kb" // never created: nothing installed there
		}
		return base(k)
	}
	ios, _, errOut := Test("")
	if code := Run(context.Background(), []string{"service", "uninstall"}, ios, getenv); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := `Not installed: no torale-cred.service or torale-cred.socket in /tmp/a\r\x1b[2Kb/.config/systemd/user; nothing to remove.` + "\n"
	if got := errOut.String(); raw(got) || got != want {
		t.Fatalf("uninstall said %q, want %q", got, want)
	}
}

// Each step's sentence, byte for byte as packaging/test/*.sh and people
// read it; with hostile paths, the same sentence with them escaped.
func TestMsgServiceStep(t *testing.T) {
	systemd := []string{"torale-cred.socket", "torale-cred.service"}
	job := []string{"ai.torale.cred"}
	const dir = "/home/u/.config/systemd/user"
	cases := []struct {
		step usersvc.Step
		want string
	}{
		{usersvc.Step{Kind: usersvc.StepUnchanged, Path: dir + "/torale-cred.socket"}, "Unchanged /home/u/.config/systemd/user/torale-cred.socket"},
		{usersvc.Step{Kind: usersvc.StepStarted, Units: systemd}, "Started torale-cred.socket and torale-cred.service."},
		{usersvc.Step{Kind: usersvc.StepStarted, Units: job}, "Started ai.torale.cred."},
		{usersvc.Step{Kind: usersvc.StepStopped, Units: systemd}, "Stopped torale-cred.socket and torale-cred.service until the next start or login."},
		{usersvc.Step{Kind: usersvc.StepStopped, Units: job}, "Stopped ai.torale.cred until the next start or login."},
		{usersvc.Step{Kind: usersvc.StepWrote, Path: dir + "/torale-cred.socket"}, "Wrote /home/u/.config/systemd/user/torale-cred.socket"},
		{usersvc.Step{Kind: usersvc.StepWroteService, Path: dir + "/torale-cred.service", Exe: "/usr/bin/torale-cred"},
			"Wrote /home/u/.config/systemd/user/torale-cred.service (ExecStart=/usr/bin/torale-cred daemon)"},
		{usersvc.Step{Kind: usersvc.StepReplacedService, Path: dir + "/torale-cred.service", Exe: "/usr/bin/torale-cred"},
			"Replaced /home/u/.config/systemd/user/torale-cred.service (ExecStart=/usr/bin/torale-cred daemon)"},
		{usersvc.Step{Kind: usersvc.StepPutBack, Count: 2}, "Install failed; put back 2 unit file(s) as they were."},
		{usersvc.Step{Kind: usersvc.StepEnabled, Units: systemd, Socket: "/run/user/1000/torale-cred.sock"},
			"Enabled torale-cred.socket (listening on /run/user/1000/torale-cred.sock) and torale-cred.service: the daemon starts on the first look-up and at login.\n" +
				"Start it now: torale-cred service start · check: torale-cred service status · logs: journalctl --user -u torale-cred.service"},
		{usersvc.Step{Kind: usersvc.StepNoUnits, Units: []string{"torale-cred.service", "torale-cred.socket"}, Path: dir},
			"Not installed: no torale-cred.service or torale-cred.socket in /home/u/.config/systemd/user; nothing to remove."},
		{usersvc.Step{Kind: usersvc.StepRemovedUnit, Path: dir + "/torale-cred.service"}, "Stopped, disabled and removed /home/u/.config/systemd/user/torale-cred.service"},
		{usersvc.Step{Kind: usersvc.StepWroteAgent, Path: "/Users/u/Library/LaunchAgents/ai.torale.cred.plist", Exe: "/opt/homebrew/bin/torale-cred"},
			"Wrote /Users/u/Library/LaunchAgents/ai.torale.cred.plist (runs /opt/homebrew/bin/torale-cred daemon)"},
		{usersvc.Step{Kind: usersvc.StepLoaded, Units: job, Domain: "gui/501", Log: "/Users/u/Library/Logs/torale-cred.log"},
			"Loaded ai.torale.cred into gui/501: it runs now and at every login; logs: /Users/u/Library/Logs/torale-cred.log"},
		{usersvc.Step{Kind: usersvc.StepAlreadyLoaded, Units: job, Domain: "gui/501"}, "ai.torale.cred is already loaded in gui/501."},
		{usersvc.Step{Kind: usersvc.StepNoAgent, Path: "/Users/u/Library/LaunchAgents/ai.torale.cred.plist"},
			"Not installed: no /Users/u/Library/LaunchAgents/ai.torale.cred.plist; nothing to remove."},
		{usersvc.Step{Kind: usersvc.StepUnloaded, Units: job}, "Stopped and unloaded ai.torale.cred"},
		{usersvc.Step{Kind: usersvc.StepRemovedAgent, Path: "/Users/u/Library/LaunchAgents/ai.torale.cred.plist", Log: "/Users/u/Library/Logs/torale-cred.log"},
			"Removed /Users/u/Library/LaunchAgents/ai.torale.cred.plist (the log /Users/u/Library/Logs/torale-cred.log stays)"},
		{usersvc.Step{Kind: usersvc.StepNotRunning, Units: job}, "ai.torale.cred is not running."},
	}
	// A path from outside may hold anything, a line break included.
	const evil, shownEvil = "/tmp/a\r\x1b[2Kb\nc", `/tmp/a\r\x1b[2Kb\nc`
	covered := map[usersvc.StepKind]bool{}
	for _, tc := range cases {
		covered[tc.step.Kind] = true
		if got := msgServiceStep(tc.step); got != tc.want {
			t.Errorf("kind %d: got %q, want %q", tc.step.Kind, got, tc.want)
		}
		s, paths := tc.step, false
		for _, p := range []*string{&s.Path, &s.Exe, &s.Socket, &s.Log} {
			if *p != "" {
				*p, paths = evil+"/torale-cred", true
			}
		}
		got := msgServiceStep(s)
		if raw(got) || strings.Count(got, "\n") != strings.Count(tc.want, "\n") ||
			(paths && !strings.Contains(got, shownEvil+"/torale-cred")) {
			t.Errorf("kind %d with hostile paths: %q", s.Kind, got)
		}
	}
	// The kinds run from StepUnchanged to StepNotRunning (service.go).
	for k := usersvc.StepUnchanged; k <= usersvc.StepNotRunning; k++ {
		if !covered[k] {
			t.Errorf("kind %d has no case here", k)
		}
	}
}
