//go:build !linux

package daemon

// reliableEvents: kqueue can miss writes (fsnotify #717), so the watcher
// always keeps its slow stat poll.
const reliableEvents = false
