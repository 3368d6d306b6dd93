//go:build unix

package cli

import (
	"fmt"
	"syscall"
)

// execSSH replaces this process with ssh: same pid, ssh's exit code.
func execSSH(path string, args, env []string) error {
	if err := syscall.Exec(path, append([]string{"ssh"}, args...), env); err != nil {
		return fmt.Errorf(msgRunning, path, err)
	}
	return nil
}
