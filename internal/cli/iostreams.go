package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"

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
	ReadSecret func(ctx context.Context) ([]byte, error)
}

// System returns the process's own streams.
func System() *IOStreams {
	in := int(os.Stdin.Fd())
	return &IOStreams{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		StdinTTY:   term.IsTerminal(in),
		StdoutTTY:  term.IsTerminal(int(os.Stdout.Fd())),
		ReadSecret: func(ctx context.Context) ([]byte, error) { return readSecret(ctx, in) },
	}
}

// Test returns streams backed by buffers, none a terminal.
func Test(stdin string) (*IOStreams, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return &IOStreams{In: bytes.NewBufferString(stdin), Out: &out, ErrOut: &errOut}, &out, &errOut
}

// CanPrompt is true only when a person is at both ends.
func (s *IOStreams) CanPrompt() bool { return s.StdinTTY && s.StdoutTTY }

// readSecret reads a line without echo. Ctrl-C ends it at once with the
// terminal restored (term.ReadPassword alone keeps reading, hidden, past a
// SIGINT the program has caught), and Ctrl-D on an empty line aborts.
func readSecret(ctx context.Context, fd int) ([]byte, error) {
	if ctx.Err() != nil {
		return nil, errInterrupted
	}
	state, err := term.GetState(fd)
	if err != nil {
		return nil, err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	type line struct {
		b   []byte
		err error
	}
	got := make(chan line, 1)
	go func() {
		b, err := term.ReadPassword(fd)
		got <- line{b, err}
	}()
	select {
	case l := <-got:
		if ctx.Err() != nil {
			return nil, errInterrupted // the SIGINT came before our handler
		}
		if errors.Is(l.err, io.EOF) && len(l.b) == 0 {
			return nil, errAborted
		}
		return l.b, l.err
	case <-sigs:
	case <-ctx.Done():
	}
	_ = term.Restore(fd, state)
	return nil, errInterrupted
}
