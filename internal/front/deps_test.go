//go:build !windows

package front

import (
	"os/exec"
	"strings"
	"testing"
)

// TestFrontsLinkLittle: the lean fronts stay lean. Neither links the net
// package (its poller and dial cost a look-up about 0.2 ms as a process),
// encoding/json (reflection on first use), net/http (with crypto/tls),
// cobra, godbus, go-keyring, fsnotify, go-systemd or the service library;
// if one does, its start-up is the full CLI's again.
func TestFrontsLinkLittle(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	heavy := []string{"net", "encoding/json", "net/http", "crypto/tls", "github.com/spf13/cobra", "github.com/godbus/dbus", "github.com/zalando/go-keyring",
		"github.com/fsnotify/fsnotify", "github.com/coreos/go-systemd", "github.com/kardianos/service",
		"github.com/torale-ai/torale-cred/credstore", "github.com/torale-ai/torale-cred/ipc", "github.com/torale-ai/torale-cred/internal/cli"}
	for _, cmd := range []string{"torale-cred", "git-credential-torale"} {
		out, err := exec.Command(goCmd, "list", "-deps", "github.com/torale-ai/torale-cred/cmd/"+cmd).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", cmd, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, h := range heavy {
				if dep == h || strings.HasPrefix(dep, h+"/") {
					t.Errorf("cmd/%s links %s", cmd, dep)
				}
			}
		}
	}
}
