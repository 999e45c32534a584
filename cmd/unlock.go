package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the unlock command lands; it refuses to run.
func newUnlockCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:    "unlock",
		Short:  "(not built yet)",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("unlock: not built yet") },
	}
}
