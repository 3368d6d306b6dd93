package scan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// Staged scans what the next commit of the repository at dir would hold:
// each file staged as added, copied, modified or renamed (git diff --cached
// --name-only -z), read from the index (git cat-file blob :PATH), every
// text blob whatever its name. A blob larger than maxSize (0:
// DefaultMaxSize) is noted, not read past the limit.
func Staged(ctx context.Context, dir string, maxSize int64) (Report, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	var r Report
	names, err := git(ctx, dir, nil, "diff", "--cached", "--name-only", "-z", "--diff-filter=ACMR", "--no-renames")
	if err != nil {
		return r, err
	}
	for _, name := range strings.Split(string(names), "\x00") {
		if name == "" {
			continue
		}
		if err := ctx.Err(); err != nil {
			return r, err
		}
		var buf limitedBuffer
		buf.max = maxSize
		_, err := git(ctx, dir, &buf, "cat-file", "blob", ":"+name)
		switch {
		case buf.over:
			r.Notes = append(r.Notes, Note{Path: name, Reason: fmt.Sprintf("larger than the %s read (--max-size)", size(maxSize))})
			continue
		case err != nil:
			r.Notes = append(r.Notes, Note{Path: name, Reason: "not read from the index: " + err.Error()})
			continue
		}
		b := buf.Bytes()
		if Binary(b) {
			continue
		}
		r.Files++
		r.Findings = append(r.Findings, Find(b, name, KindFile)...)
	}
	return r, nil
}

// limitedBuffer keeps at most max bytes and says when more came. It is
// no bytes.Buffer by embedding: io.Copy would use the embedded ReadFrom
// and bypass the limit.
type limitedBuffer struct {
	buf  bytes.Buffer
	max  int64
	over bool
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if int64(l.buf.Len()+len(p)) > l.max {
		l.over = true
		return 0, errors.New("blob too large")
	}
	return l.buf.Write(p)
}

func (l *limitedBuffer) Bytes() []byte { return l.buf.Bytes() }

// git runs git in dir; stdout goes to out when given, else is returned.
func git(ctx context.Context, dir string, out io.Writer, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if out != nil {
		cmd.Stdout = out
	}
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			msg := strings.TrimSpace(stderr.String())
			msg = strings.TrimPrefix(msg, "fatal: ")
			return nil, fmt.Errorf("git %s failed: %s", args[0], msg)
		}
		return nil, fmt.Errorf("cannot run git (%v); install git and try again", err)
	}
	return stdout.Bytes(), nil
}
