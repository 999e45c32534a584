package cmd

import (
	"bufio"
	"errors"
	"fmt"
	"strings"

	"github.com/odin-deploy/odin/pkg/exitcode"
	"github.com/odin-deploy/odin/pkg/iostreams"
)

// confirm asks a yes/no question on the terminal. Without a terminal it
// refuses rather than guess: scripts say --yes.
func confirm(io *iostreams.IOStreams, yes bool, question string) error {
	if yes {
		return nil
	}
	if !io.IsStdinTTY() {
		return exitcode.UsageError(errors.New("refusing without confirmation: stdin is not a terminal (pass --yes)"))
	}
	fmt.Fprintf(io.ErrOut, "%s [y/N] ", question)
	line, _ := bufio.NewReader(io.In).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return exitcode.New(exitcode.Failed, errors.New("not confirmed; nothing was changed"))
}
