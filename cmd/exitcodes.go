package cmd

import (
	"fmt"

	"github.com/spf13/cobra"
)

const exitCodesHelp = `odin exits with one of these codes, whatever the command:

  0  succeeded: the deploy succeeded, or the command did what was asked
  1  failed: the deploy failed, or an unexpected error (network, permissions)
  2  bad usage: an unknown flag, a bad argument, an invalid release file, or a
     configuration error (no region, an unknown region or profile, no credentials)
  3  timed out: the deploy missed the release's timeout (TimeoutError), or the execution timed out
  4  aborted or halted: the execution was stopped or halted and rolled back
  5  still running: odin stopped waiting (--timeout, q, ctrl-c) before the end
130  interrupted: a second ctrl-c (SIGINT), or a command still busy 5 s after the first
143  terminated: the same for SIGTERM
`

func newExitCodesCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "exit-codes",
		Example: "  odin exit-codes",
		Short:   "Explain odin's exit codes",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprint(f.IO.Out, exitCodesHelp)
			return err
		},
	}
}
