package cli

import (
	"bytes"
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams are a command's standard streams with terminal detection that
// tests can override.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// StdinTTY / StdoutTTY are fixed at construction so tests can pretend.
	StdinTTY  bool
	StdoutTTY bool
	// ReadSecret reads a line without echo from the terminal on In.
	ReadSecret func() ([]byte, error)
}

// System returns the process's own streams.
func System() *IOStreams {
	in := int(os.Stdin.Fd())
	return &IOStreams{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		StdinTTY:   term.IsTerminal(in),
		StdoutTTY:  term.IsTerminal(int(os.Stdout.Fd())),
		ReadSecret: func() ([]byte, error) { return term.ReadPassword(in) },
	}
}

// Test returns streams backed by buffers, none a terminal.
func Test(stdin string) (*IOStreams, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return &IOStreams{In: bytes.NewBufferString(stdin), Out: &out, ErrOut: &errOut}, &out, &errOut
}

// CanPrompt is true only when a person is at both ends.
func (s *IOStreams) CanPrompt() bool { return s.StdinTTY && s.StdoutTTY }
