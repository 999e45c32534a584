package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the fail command lands; it refuses to run.
func newFailCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:    "fail",
		Short:  "(not built yet)",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("fail: not built yet") },
	}
}
