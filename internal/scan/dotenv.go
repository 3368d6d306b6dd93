package scan

import (
	"bytes"
	"errors"
	"fmt"
)

// Assignment is one `NAME=VALUE` line of a .env file (or a shell rc file's
// `export NAME=VALUE`), as python-dotenv reads it: optional leading blanks,
// an optional `export `, the name, `=`, and a value that is single-quoted,
// double-quoted, or bare up to a ` #` comment. Offsets index the line.
type Assignment struct {
	Export bool
	Name   string
	// Value is the value as the program sees it (quotes removed, a double
	// quote's \" and \\ undone).
	Value string
	// ValueStart and ValueEnd bound the value's text inside its quotes (or
	// the bare value): line[ValueStart:ValueEnd].
	ValueStart, ValueEnd int
}

// ParseLine reads one line (without its line ending) as an assignment;
// false for a blank line, a comment, or anything it does not understand
// (an unterminated quote, text after a closing quote, a bad name). It never
// guesses: a line it cannot read fully is not an assignment.
func ParseLine(line []byte) (Assignment, bool) {
	var a Assignment
	i := skipBlanks(line, 0)
	if rest, ok := bytes.CutPrefix(line[i:], []byte("export")); ok && len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
		a.Export = true
		i = skipBlanks(line, i+len("export"))
	}
	start := i
	for i < len(line) && nameChar(line[i], i == start) {
		i++
	}
	if i == start {
		return Assignment{}, false
	}
	a.Name = string(line[start:i])
	i = skipBlanks(line, i)
	if i >= len(line) || line[i] != '=' {
		return Assignment{}, false
	}
	i = skipBlanks(line, i+1)
	switch {
	case i < len(line) && (line[i] == '\'' || line[i] == '"'):
		q := line[i]
		var val []byte
		j := i + 1
		for ; j < len(line) && line[j] != q; j++ {
			if line[j] == '\\' && j+1 < len(line) && (line[j+1] == q || line[j+1] == '\\') {
				j++
			}
			val = append(val, line[j])
		}
		if j >= len(line) {
			return Assignment{}, false // unterminated (python-dotenv would read on): not ours to touch
		}
		after := skipBlanks(line, j+1)
		if after < len(line) && line[after] != '#' {
			return Assignment{}, false
		}
		a.Value, a.ValueStart, a.ValueEnd = string(val), i+1, j
	default:
		end := len(line)
		if k := bytes.Index(line[i:], []byte(" #")); k >= 0 {
			end = i + k
		}
		if k := bytes.Index(line[i:end], []byte("\t#")); k >= 0 {
			end = i + k
		}
		for end > i && (line[end-1] == ' ' || line[end-1] == '\t') {
			end--
		}
		if bytes.ContainsAny(line[i:end], "'\"`$\\") {
			return Assignment{}, false // shell syntax we do not read
		}
		a.Value, a.ValueStart, a.ValueEnd = string(line[i:end]), i, end
	}
	return a, true
}

func skipBlanks(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	return i
}

// nameChar is [A-Za-z_][A-Za-z0-9_.]*: python-dotenv also takes dots.
func nameChar(c byte, first bool) bool {
	switch {
	case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		return true
	case '0' <= c && c <= '9', c == '.':
		return !first
	}
	return false
}

// The variables the official SDK reads.
const (
	VarKey = "TORALE_API_KEY"
	VarURL = "TORALE_API_URL"
)

// ErrNotRewritable: the file has no TORALE_API_KEY line holding the key
// that RewriteEnv could replace, or names another API URL.
var ErrNotRewritable = errors.New("left as it is")

// RewriteEnv returns content with every `TORALE_API_KEY=<key>` line's
// value replaced by token and every TORALE_API_URL value by url (a
// `TORALE_API_URL=<url>` line added after the last key line when it has
// none), every other byte kept: line endings, quotes, comments, order.
// token and url must need no quoting (a local token and a loopback URL do
// not). oldURL, when the file names a TORALE_API_URL, must be acceptable
// to sameURL: a file that talks to another server is not pointed at the
// endpoint, which forwards to the profile's URL.
func RewriteEnv(content []byte, key, token, url string, sameURL func(string) bool) ([]byte, error) {
	lines := splitLines(content)
	var out bytes.Buffer
	out.Grow(len(content) + len(url) + 32)
	replaced, hasURL := 0, false
	lastKey := -1
	for n, l := range lines {
		a, ok := ParseLine(l.text)
		if ok && a.Name == VarKey && a.Value == key {
			lastKey = n
		}
		if ok && a.Name == VarURL {
			if !sameURL(a.Value) {
				return nil, fmt.Errorf("%w: it sets %s to another server than the profile's, where the endpoint forwards; give that server a profile of its own (torale-cred login --api-url URL --profile NAME), then run torale-cred scan --fix --profile NAME", ErrNotRewritable, VarURL)
			}
			hasURL = true
		}
	}
	if lastKey < 0 {
		return nil, fmt.Errorf("%w: no %s=<key> line the endpoint can take over", ErrNotRewritable, VarKey)
	}
	for n, l := range lines {
		a, ok := ParseLine(l.text)
		switch {
		case ok && a.Name == VarKey && a.Value == key:
			out.Write(l.text[:a.ValueStart])
			out.WriteString(token)
			out.Write(l.text[a.ValueEnd:])
			replaced++
		case ok && a.Name == VarURL:
			out.Write(l.text[:a.ValueStart])
			out.WriteString(url)
			out.Write(l.text[a.ValueEnd:])
		default:
			out.Write(l.text)
		}
		eol := l.eol
		if n == lastKey && !hasURL {
			if len(eol) == 0 {
				eol = []byte("\n")
			}
			out.Write(eol)
			if a.Export {
				out.WriteString("export ")
			}
			out.WriteString(VarURL + "=" + url)
			eol = l.eol
		}
		out.Write(eol)
	}
	return out.Bytes(), nil
}

type line struct{ text, eol []byte }

// splitLines splits b after each "\n", keeping "\r\n" or "\n" as the line's
// ending; the last line may have none.
func splitLines(b []byte) []line {
	var ls []line
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			ls = append(ls, line{text: b})
			break
		}
		t, eol := b[:i], b[i:i+1]
		if i > 0 && b[i-1] == '\r' {
			t, eol = b[:i-1], b[i-1:i+1]
		}
		ls = append(ls, line{text: t, eol: eol})
		b = b[i+1:]
	}
	return ls
}
