package daemon

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/torale-ai/torale-cred/internal/trust"
)

// tightenToraleDir makes config.json's directory (~/.torale) private
// whenever the daemon runs, at start and again at each look the watcher
// takes (a chmod of the directory is such a look): the official CLI
// creates it 0755, and its next plaintext key would be readable by other
// users until it is moved. Only a real directory of ours named .torale is
// touched (one of the user's choosing, through TORALE_CONFIG, is theirs to
// set; another user's is refused by the trust rules instead), and the
// change is logged.
func tightenToraleDir(configPath string, log *slog.Logger) {
	dir := filepath.Dir(configPath)
	if filepath.Base(dir) != ".torale" {
		return
	}
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm()&0o077 == 0 || !trust.OwnedBy(fi, os.Getuid()) {
		return
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		log.Warn("cannot make config.json's directory private", "dir", dir, "err", err)
		return
	}
	log.Info("made config.json's directory private", "dir", dir, "was", fmt.Sprintf("%#o", fi.Mode().Perm()))
}
