//go:build !unix

package cli

import "errors"

func execSSH(string, []string, []string) error {
	return errors.New("torale-cred ssh needs a Unix system (the daemon watches the ssh client it becomes)")
}
