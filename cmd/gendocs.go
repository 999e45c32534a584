package cmd

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

// newGenDocsCmd writes man pages and completion scripts for release archives
// (goreleaser's before hook runs it). Hidden: it is a build step, not a feature.
func newGenDocsCmd(f *Factory) *cobra.Command {
	var manDir, completionDir string
	cmd := &cobra.Command{
		Use:     "gen-docs",
		Example: "  odin gen-docs --man man/ --completions completions/",
		Short:   "Write man pages and shell completions",
		Hidden:  true,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			root := cmd.Root()
			if manDir != "" {
				if err := writeManPages(root, manDir, "odin "+version); err != nil {
					return err
				}
			}
			if completionDir != "" {
				return writeCompletionFiles(root, completionDir)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&manDir, "man", "", "directory for man pages")
	cmd.Flags().StringVar(&completionDir, "completions", "", "directory for completion scripts")
	return cmd
}

// completionFiles names the committed completion script of each shell.
var completionFiles = map[string]string{
	"bash":       "odin.bash",
	"zsh":        "_odin",
	"fish":       "odin.fish",
	"powershell": "odin.ps1",
}

func writeCompletionFiles(root *cobra.Command, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for shell, name := range completionFiles {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		err = writeCompletion(root, shell, f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s completion: %w", shell, err)
		}
	}
	return nil
}
