//go:build linux || darwin

package usersvc

import (
	"fmt"
	"os"
	"strings"

	"github.com/kardianos/service"
)

// serviceExecutable is the absolute path of the torale-cred the unit or
// agent runs: the one the user ran `service install` with, so a `go
// install` or source build works as well as the packaged
// /usr/bin/torale-cred.
func (e *Env) serviceExecutable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding torale-cred's own path for the service: %w", err)
	}
	return exe, nil
}

// kardianosConfig is the one service definition handed to
// github.com/kardianos/service: its own templates are replaced by ours
// (script, already rendered, so its template engine passes it through as is).
func kardianosConfig(name, executable, optionKey, script string) *service.Config {
	return &service.Config{
		Name:        name,
		DisplayName: "torale-cred",
		Description: "torale-cred (Torale API keys from the OS keychain)",
		Executable:  executable,
		Arguments:   []string{"daemon"},
		Option: service.KeyValue{
			"UserService": true,
			optionKey:     script,
		},
	}
}

// templateFree refuses a rendered file that kardianos' template engine would
// not pass through as is (a "{{" in the path of the binary, say).
func templateFree(file string) error {
	if strings.Contains(file, "{{") {
		return fmt.Errorf("the path of torale-cred contains \"{{\", which the service library would read as a template; move torale-cred elsewhere")
	}
	return nil
}

// noProgram satisfies service.Interface: we only install and control the
// service through kardianos; `torale-cred daemon` runs it.
type noProgram struct{}

func (noProgram) Start(service.Service) error { return nil }
func (noProgram) Stop(service.Service) error  { return nil }

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
