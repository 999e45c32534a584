package cmd

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
)

func newVersionCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print odin's version, commit and build date",
		Args:    usageArgs(cobra.NoArgs),
		Example: "  odin version\n  odin version --output json",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.Settings.Output == "json" {
				return json.NewEncoder(f.IO.Out).Encode(map[string]string{"version": version, "commit": commit, "date": date})
			}
			_, err := fmt.Fprintln(f.IO.Out, versionLine())
			return err
		},
	}
}
