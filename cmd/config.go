package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the config command lands; it refuses to run.
func newConfigCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:    "config",
		Short:  "(not built yet)",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("config: not built yet") },
	}
}
