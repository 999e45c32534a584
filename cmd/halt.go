package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the halt command lands; it refuses to run.
func newHaltCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:    "halt",
		Short:  "(not built yet)",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("halt: not built yet") },
	}
}
