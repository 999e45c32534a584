package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the local command lands; it refuses to run.
func newLocalCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:    "local",
		Short:  "(not built yet)",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("local: not built yet") },
	}
}
