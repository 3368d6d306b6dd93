// Command torale-cred-service runs `torale-cred service install|uninstall|
// start|stop|status`: torale-cred execs it with its own command line, so
// that only these commands link and initialise the service library.
package main

import (
	"os"

	"github.com/torale-ai/torale-cred/internal/usersvc"
)

func main() { os.Exit(usersvc.Main()) }
