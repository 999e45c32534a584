package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the validate command lands; it refuses to run.
func newValidateCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:    "validate",
		Short:  "(not built yet)",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("validate: not built yet") },
	}
}
