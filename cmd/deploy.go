package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the deploy command lands; it refuses to run.
func newDeployCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:    "deploy",
		Short:  "(not built yet)",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("deploy: not built yet") },
	}
}
