package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the deployer command lands; it refuses to run.
func newDeployerCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:    "deployer",
		Short:  "(not built yet)",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("deployer: not built yet") },
	}
}
