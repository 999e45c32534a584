package cmd

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newCompletionCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "completion bash|zsh|fish|powershell",
		Example: "  odin completion bash > /etc/bash_completion.d/odin\n  odin completion zsh > \"${fpath[1]}/_odin\"",
		Short:   "Print a shell completion script",
		Long: `Print the completion script for a shell. Load it in the current shell, or install it
(the release archives carry the same scripts under completions/):

  bash:        source <(odin completion bash)
  zsh:         odin completion zsh > "${fpath[1]}/_odin"
  fish:        odin completion fish > ~/.config/fish/completions/odin.fish
  powershell:  odin completion powershell | Out-String | Invoke-Expression`,
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		Args:      usageArgs(cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return writeCompletion(cmd.Root(), args[0], f.IO.Out)
		},
	}
}

// writeCompletion writes the completion script for shell.
func writeCompletion(root *cobra.Command, shell string, w io.Writer) error {
	switch shell {
	case "bash":
		return root.GenBashCompletionV2(w, true)
	case "zsh":
		return root.GenZshCompletion(w)
	case "fish":
		return root.GenFishCompletion(w, true)
	case "powershell":
		return root.GenPowerShellCompletionWithDesc(w)
	}
	return fmt.Errorf("unknown shell %q", shell)
}
