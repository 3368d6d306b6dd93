package daemon

import (
	"sync"
	"sync/atomic"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/internal/toraleconfig"
)

// fileCache is a credstore.Files kept in memory: config.json and
// state.json are read once, then again only when Reload is called (by the
// watchers, when either file changed, and by the Store after it wrote
// one). A look-up reads no file.
type fileCache struct {
	disk credstore.DiskFiles
	mu   sync.Mutex // one reload at a time
	cur  atomic.Pointer[fileSnap]
}

type fileSnap struct {
	cfg    toraleconfig.Snapshot
	cfgErr error
	st     *credstore.State
	stErr  error
}

func newFileCache(disk credstore.DiskFiles) *fileCache {
	c := &fileCache{disk: disk}
	c.Reload()
	return c
}

// Reload implements credstore.Files: both files are read now.
func (c *fileCache) Reload() {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &fileSnap{}
	s.cfg, s.cfgErr = c.disk.Config()
	s.cfg.Raw = nil // a rewrite reads the file afresh; only the parsed fields are served
	s.st, s.stErr = c.disk.State()
	c.cur.Store(s)
}

// Config implements credstore.Files (without the raw bytes).
func (c *fileCache) Config() (toraleconfig.Snapshot, error) {
	s := c.cur.Load()
	return s.cfg, s.cfgErr
}

// State implements credstore.Files.
func (c *fileCache) State() (*credstore.State, error) {
	s := c.cur.Load()
	return s.st, s.stErr
}

var _ credstore.Files = (*fileCache)(nil)
