// Command torale-cred-cli is torale-cred's full command line (and, run as
// git-credential-torale, the full git helper): the lean fronts torale-cred
// and git-credential-torale exec it for everything but their hot path. It
// is installed beside them or in /usr/lib/torale-cred/ (internal/progs).
package main

import (
	"os"

	"github.com/torale-ai/torale-cred/internal/cli"
)

func main() { os.Exit(cli.FullMain()) }
