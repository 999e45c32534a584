package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the history command lands; it refuses to run.
func newHistoryCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:    "history",
		Short:  "(not built yet)",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("history: not built yet") },
	}
}
