package cmd

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// ExitCode is one of odin's exit codes as `odin exit-codes --output json`
// lists it.
type ExitCode struct {
	Code    int    `json:"code"`
	Name    string `json:"name"`
	Meaning string `json:"meaning"`
}

var exitCodes = []ExitCode{
	{0, "succeeded", "the deploy succeeded, or the command did what was asked"},
	{1, "failed", "the deploy failed, or an unexpected error (network, permissions)"},
	{2, "bad usage", "an unknown flag, a bad argument, an invalid release file, or a configuration error (no region, an unknown region or profile, no credentials)"},
	{3, "timed out", "the deploy missed the release's timeout (TimeoutError), or the execution timed out"},
	{4, "aborted or halted", "the execution was stopped or halted and rolled back"},
	{5, "still running", "odin stopped waiting (--timeout, q, ctrl-c) before the end"},
	{130, "interrupted", "a second ctrl-c (SIGINT), or a command still busy 5 s after the first"},
	{143, "terminated", "the same for SIGTERM"},
}

// writeExitCodes prints the table, each meaning wrapped at 80 columns.
func writeExitCodes(w io.Writer) error {
	var b strings.Builder
	b.WriteString("odin exits with one of these codes, whatever the command:\n\n")
	for _, c := range exitCodes {
		line := fmt.Sprintf("%3d  ", c.Code)
		for _, word := range strings.Fields(c.Name + ": " + c.Meaning) {
			if len(line)+1+len(word) > 80 {
				b.WriteString(line + "\n")
				line = "     "
			}
			if !strings.HasSuffix(line, "  ") {
				line += " "
			}
			line += word
		}
		b.WriteString(line + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func newExitCodesCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "exit-codes",
		Example: "  odin exit-codes\n  odin exit-codes --output json",
		Short:   "Explain odin's exit codes",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.Settings.Output == "json" {
				return json.NewEncoder(f.IO.Out).Encode(exitCodes)
			}
			return writeExitCodes(f.IO.Out)
		},
	}
}
