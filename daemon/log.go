package daemon

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/coreos/go-systemd/v22/journal"
)

// NewLogger is the daemon's logger: the systemd journal, with structured
// fields, when stderr is connected to it (JOURNAL_STREAM); else text on w.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	if w == os.Stderr && journal.Enabled() {
		if ok, err := journal.StderrIsJournalStream(); err == nil && ok {
			return slog.New(&journalHandler{level: level})
		}
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// journalHandler sends each record to journald natively: MESSAGE holds the
// text with its attributes (as journalctl shows it), and each attribute is
// also a field (ERR=..., SOCKET=...), so `journalctl SOCKET=...` works.
type journalHandler struct {
	level  slog.Level
	attrs  []slog.Attr
	prefix string
}

func (h *journalHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *journalHandler) Handle(_ context.Context, r slog.Record) error {
	vars := map[string]string{"SYSLOG_IDENTIFIER": "torale-cred"}
	var b strings.Builder
	b.WriteString(r.Message)
	add := func(prefix string, a slog.Attr) {
		v := a.Value.Resolve()
		if a.Key == "" {
			return
		}
		key := prefix + a.Key
		s := v.String()
		vars[fieldName(key)] = s
		b.WriteString(" " + key + "=")
		if strings.ContainsAny(s, " \"=") || s == "" {
			b.WriteString(`"` + strings.ReplaceAll(s, `"`, `\"`) + `"`)
		} else {
			b.WriteString(s)
		}
	}
	for _, a := range h.attrs {
		add("", a)
	}
	r.Attrs(func(a slog.Attr) bool { add(h.prefix, a); return true })
	return journal.Send(b.String(), priority(r.Level), vars)
}

func (h *journalHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	n.attrs = append(append([]slog.Attr(nil), h.attrs...), prefixed(h.prefix, as)...)
	return &n
}

func (h *journalHandler) WithGroup(name string) slog.Handler {
	n := *h
	n.prefix = h.prefix + name + "."
	return &n
}

func prefixed(p string, as []slog.Attr) []slog.Attr {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = slog.Attr{Key: p + a.Key, Value: a.Value}
	}
	return out
}

func priority(l slog.Level) journal.Priority {
	switch {
	case l >= slog.LevelError:
		return journal.PriErr
	case l >= slog.LevelWarn:
		return journal.PriWarning
	case l >= slog.LevelInfo:
		return journal.PriInfo
	}
	return journal.PriDebug
}

// fieldName makes a journal field name: upper case letters, digits and _,
// not starting with _ or a digit.
func fieldName(k string) string {
	b := []byte(strings.ToUpper(k))
	for i, c := range b {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			b[i] = '_'
		}
	}
	s := string(b)
	switch s {
	case "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "MESSAGE_ID":
		s = "F_" + s
	}
	if s == "" || s[0] == '_' || (s[0] >= '0' && s[0] <= '9') {
		s = "F" + s
	}
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}
