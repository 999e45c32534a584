// Package iostreams knows the process's standard streams: whether each is a
// terminal, the terminal's width, and whether colour is wanted.
package iostreams

import (
	"bytes"
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams is the one value commands use for input and output.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY  bool
	stdoutTTY bool
	colour    bool
	width     int
}

// System returns the streams of this process.
func System() *IOStreams {
	s := &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr, width: 80}
	s.stdinTTY = isTerminal(os.Stdin)
	s.stdoutTTY = isTerminal(os.Stdout)
	if s.stdoutTTY {
		if w, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil && w > 0 {
			s.width = w
		}
	}
	// NO_COLOR (https://no-color.org) wins over everything; a dumb terminal has none.
	_, noColour := os.LookupEnv("NO_COLOR")
	s.colour = s.stdoutTTY && !noColour && os.Getenv("TERM") != "dumb"
	return s
}

// Test returns streams backed by buffers: stdin, stdout, stderr. None is a
// terminal until the test says so.
func Test() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut, width: 80}, in, out, errOut
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// IsStdinTTY reports whether standard input is a terminal (prompts need one).
func (s *IOStreams) IsStdinTTY() bool { return s.stdinTTY }

// IsStdoutTTY reports whether standard output is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// SetStdinTTY and SetStdoutTTY let tests pretend.
func (s *IOStreams) SetStdinTTY(v bool)  { s.stdinTTY = v }
func (s *IOStreams) SetStdoutTTY(v bool) { s.stdoutTTY = v }

// ColorEnabled reports whether output may carry colour escapes.
func (s *IOStreams) ColorEnabled() bool { return s.colour }

// SetColorEnabled turns colour on or off (--no-color, tests).
func (s *IOStreams) SetColorEnabled(v bool) { s.colour = v }

// TerminalWidth is the width of the terminal on stdout, 80 when unknown.
func (s *IOStreams) TerminalWidth() int { return s.width }
