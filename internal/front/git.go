//go:build !windows

package front

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"unicode/utf8"

	"github.com/torale-ai/torale-cred/internal/lookup"
	"github.com/torale-ai/torale-cred/internal/progs"
	"github.com/torale-ai/torale-cred/internal/wire"
)

// maxGitInput is the most of git's request the front reads: the full
// helper's own bound (gitcred.MaxInput) and one byte, so that a request the
// helper refuses for its size is refused the same way after a replay.
const maxGitInput = 1<<20 + 1

// Git is git-credential-torale's main: `get` answered by the daemon's
// POST /v1/git (the git helper's own rule, run there); store, erase,
// --help, --version, no daemon and every failure by the full CLI as
// git-credential-torale, with whatever this process read of git's request
// given back to it on standard input.
func Git() int {
	name := argv0(progs.Git)
	profile, ok := hotArgs(os.Args[1:], "get")
	if !ok || !usable() {
		return delegate(name)
	}
	getenv := os.Getenv
	fl := lookup.Flags{Profile: profile}
	env := lookup.Env(getenv, fl)
	if _, err := wire.ProfileOf(profile, env); err != nil {
		return delegate(name)
	}
	sock, err := lookup.SocketPath(getenv, fl)
	if err != nil {
		return delegate(name)
	}
	timeout := lookup.ClientTimeout(getenv, fl)
	c, o := dial(sock, timeout)
	if o != answered {
		if o == stuck {
			return delegate(name, stuckEnv)
		}
		return delegate(name)
	}
	defer c.Close()
	input, err := readRequest(os.Stdin)
	if err != nil || !utf8.Valid(input) {
		return replay(name, input)
	}
	body, err := wire.GitRequest{Operation: "get", Input: string(input), Profile: profile, Env: env}.MarshalJSON()
	if err != nil || len(body) > wire.MaxBodyBytes {
		return replay(name, input)
	}
	a, o := ask(c, "/v1/git", wire.DoorGit, body, timeout)
	out, ok := "", false
	if o == answered && a.status == 200 {
		out, ok = wire.GitOutput(a.body)
	}
	switch {
	case o == stuck:
		return replay(name, input, stuckEnv)
	case o == answered && a.status == http403:
		// A policy refused (or the user denied) the key: the helper says
		// so from this answer, without asking (and auditing) again.
		return replay(name, input, handOn(a, wire.DoorGit))
	case !ok:
		return replay(name, input)
	}
	if _, err := os.Stdout.WriteString(out); err != nil {
		return 1
	}
	return 0
}

// http403 is a refusal by a policy (ipc's "denied").
const http403 = 403

// readRequest reads git's request as the helper's parser does: lines up
// to a blank one or the end, at most maxGitInput bytes. It returns every
// byte taken from r (a read may take more than the request).
func readRequest(r io.Reader) ([]byte, error) {
	var taken bytes.Buffer
	br := bufio.NewReader(io.TeeReader(io.LimitReader(r, maxGitInput), &taken))
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
			if err == nil {
				continue
			}
		}
		if err == io.EOF {
			return taken.Bytes(), nil
		}
		if err != nil {
			return taken.Bytes(), err
		}
		if len(line) == 1 || (len(line) == 2 && line[0] == '\r') {
			return taken.Bytes(), nil
		}
	}
}

// replay hands the full helper what this process read of standard input,
// then the process: see stdinFrom.
func replay(name string, input []byte, extra ...string) int {
	if err := stdinFrom(input); err != nil {
		os.Stderr.WriteString(name + ": cannot pass git's request on: " + err.Error() + "\n")
		return 1
	}
	return delegate(name, extra...)
}
