package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the schema command lands; it refuses to run.
func newSchemaCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:    "schema",
		Short:  "(not built yet)",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("schema: not built yet") },
	}
}
