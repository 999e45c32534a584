package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the completion command lands; it refuses to run.
func newCompletionCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:    "completion",
		Short:  "(not built yet)",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("completion: not built yet") },
	}
}
