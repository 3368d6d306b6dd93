// Package packaging owns the files that install torale-cred as a per-user
// service (systemd units, the launchd agent) and renders them for one
// machine, so `torale-cred service install` writes the same bytes the
// packages ship. It never writes a file or runs a service manager itself.
package packaging

import (
	_ "embed"
	"fmt"
	"strings"
)

// Names fixed by SPEC.md, and where the packages put the binary.
const (
	ServiceUnit        = "torale-cred.service"
	SocketUnit         = "torale-cred.socket"
	LaunchdLabel       = "ai.torale.cred"
	PackagedExecutable = "/usr/bin/torale-cred"
)

var (
	//go:embed systemd/torale-cred.service
	systemdService string
	//go:embed systemd/torale-cred.socket
	systemdSocket string
	//go:embed launchd/ai.torale.cred.plist
	launchdPlist string
)

// SystemdService is packaging/systemd/torale-cred.service as shipped, with
// ExecStart=/usr/bin/torale-cred daemon.
func SystemdService() string { return systemdService }

// SystemdSocket is packaging/systemd/torale-cred.socket as shipped; it needs
// no rendering (%t is the user's runtime directory).
func SystemdSocket() string { return systemdSocket }

// LaunchdPlist is packaging/launchd/ai.torale.cred.plist as shipped: a
// template with @EXECUTABLE@ and @HOME@ for RenderLaunchdPlist.
func LaunchdPlist() string { return launchdPlist }

const packagedExecStart = "ExecStart=" + PackagedExecutable + " daemon\n"

// RenderSystemdService is the shipped service unit with ExecStart pointing at
// executable (an absolute path), escaped for a unit file. Only that one line
// differs from SystemdService; for PackagedExecutable the bytes are
// identical. It fails for a relative path, and for one that systemd refuses
// as a program name (quotes, backslashes, control characters).
func RenderSystemdService(executable string) (string, error) {
	if !strings.HasPrefix(executable, "/") {
		return "", fmt.Errorf("the service needs an absolute path to torale-cred, not %q", executable)
	}
	if strings.ContainsAny(executable, `"'\`) || strings.ContainsFunc(executable, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", fmt.Errorf("systemd cannot run a program whose path has quotes, backslashes or control characters: %q; move torale-cred elsewhere", executable)
	}
	if strings.Count(systemdService, packagedExecStart) != 1 {
		return "", fmt.Errorf("packaging/systemd/%s lost its line %q", ServiceUnit, strings.TrimSpace(packagedExecStart))
	}
	line := "ExecStart=" + escapeExecPath(executable) + " daemon\n"
	return strings.Replace(systemdService, packagedExecStart, line, 1), nil
}

// escapeExecPath writes a program path for ExecStart: systemd expands
// %-specifiers in it and splits words on whitespace ($ is literal in the
// program name, so it stays).
func escapeExecPath(p string) string {
	e := strings.ReplaceAll(p, "%", "%%")
	if strings.Contains(e, " ") {
		e = `"` + e + `"`
	}
	return e
}

// RenderLaunchdPlist is the shipped LaunchAgent with executable (absolute)
// as the program and the logs in home/Library/Logs/torale-cred.log: launchd
// expands neither ~ nor $HOME, so both are written out, XML-escaped.
func RenderLaunchdPlist(executable, home string) (string, error) {
	for what, p := range map[string]string{"torale-cred": executable, "the home directory": home} {
		if !strings.HasPrefix(p, "/") {
			return "", fmt.Errorf("the LaunchAgent needs an absolute path to %s, not %q", what, p)
		}
		if strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return "", fmt.Errorf("the path %q contains control characters", p)
		}
	}
	if strings.Count(launchdPlist, "@EXECUTABLE@") != 1 || strings.Count(launchdPlist, "@HOME@") != 2 {
		return "", fmt.Errorf("packaging/launchd/%s.plist lost its @EXECUTABLE@ or @HOME@ placeholders", LaunchdLabel)
	}
	x := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")
	home = strings.TrimSuffix(home, "/")
	body := strings.NewReplacer("@EXECUTABLE@", x.Replace(executable), "@HOME@", x.Replace(home)).Replace(launchdPlist)
	return body, nil
}
