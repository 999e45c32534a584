package cmd

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/odin-deploy/odin/pkg/config"
	"github.com/odin-deploy/odin/pkg/iostreams"
)

// ConfigOptions are the inputs of `odin config`.
type ConfigOptions struct {
	IO       *iostreams.IOStreams
	Settings *config.Settings
}

func newConfigCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "config",
		Short: "Print every effective setting and where it came from",
		Long: `Print every setting odin uses, its value and its source. Settings resolve in this
order: flags, then ODIN_* environment variables (ODIN_BACKEND, ODIN_STATE_MACHINE, ...),
then the config file ($XDG_CONFIG_HOME/odin/config.yaml, or --config / ODIN_CONFIG),
then defaults.`,
		Example: "  odin config\n  ODIN_BACKEND=aws odin config --output json",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return configRun(&ConfigOptions{IO: f.IO, Settings: f.Settings})
		},
	}
}

func configRun(opts *ConfigOptions) error {
	all := opts.Settings.All()
	if opts.Settings.Output == "json" {
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"config_file": opts.Settings.ConfigFile, "settings": all})
	}
	file := opts.Settings.ConfigFile
	if file == "" {
		file = "(none found)"
	}
	fmt.Fprintf(opts.IO.Out, "config file: %s\n\n", file)
	tw := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SETTING\tVALUE\tSOURCE")
	for _, s := range all {
		value := s.Value
		if value == "" {
			value = `""`
		}
		source := string(s.Source)
		if s.Origin != "" {
			source += " (" + s.Origin + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Key, value, source)
	}
	return tw.Flush()
}
