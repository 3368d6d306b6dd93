package daemon

// reliableEvents: inotify reports every write, so the watcher needs its
// stat poll only while a directory cannot be watched.
const reliableEvents = true
