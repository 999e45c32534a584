package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the status command lands; it refuses to run.
func newStatusCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:    "status",
		Short:  "(not built yet)",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("status: not built yet") },
	}
}
