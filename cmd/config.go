package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/odin-deploy/odin/pkg/backend"
	"github.com/odin-deploy/odin/pkg/config"
	"github.com/odin-deploy/odin/pkg/iostreams"
	"github.com/odin-deploy/odin/pkg/local/server"
)

// ConfigOptions are the inputs of `odin config`.
type ConfigOptions struct {
	IO       *iostreams.IOStreams
	Settings *config.Settings
	Env      config.Env
	// SDKRegion is the region the AWS SDK would pick for a profile
	// (backend.SDKRegion); tests replace it.
	SDKRegion func(ctx context.Context, profile string) (string, error)
}

func newConfigCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "config",
		Short: "Print every effective setting and where it came from",
		Long: `Print every setting odin uses, its value and its source. Settings resolve in this
order: flags, then ODIN_* environment variables (ODIN_BACKEND, ODIN_STATE_MACHINE, ...),
then the config file ($XDG_CONFIG_HOME/odin/config.yaml, or --config / ODIN_CONFIG),
then defaults. A default that depends on the backend is shown as that backend resolves
it, without starting the local backend or calling AWS.`,
		Example: "  odin config\n  ODIN_BACKEND=aws odin config --output json",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return configRun(cmd.Context(), &ConfigOptions{IO: f.IO, Settings: f.Settings, Env: f.Env, SDKRegion: backend.SDKRegion})
		},
	}
}

func configRun(ctx context.Context, opts *ConfigOptions) error {
	all := effectiveSettings(ctx, opts)
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
			value = "(none)"
		}
		source := string(s.Source)
		if s.Origin != "" {
			source += " (" + s.Origin + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Key, value, source)
	}
	return tw.Flush()
}

// effectiveSettings fills in the defaults that are only resolved when the
// backend is opened, as Factory.Backend and backend.Open resolve them. What
// only AWS can say (the account) is named as such.
func effectiveSettings(ctx context.Context, opts *ConfigOptions) []config.Setting {
	s := opts.Settings
	local := s.Backend == backend.Local
	region, regionOrigin := s.Region, ""
	switch {
	case region != "":
	case local:
		region, regionOrigin = server.DefaultRegion, "local backend"
	case opts.SDKRegion != nil:
		if r, err := opts.SDKRegion(ctx, s.Profile); err == nil && r != "" {
			region, regionOrigin = r, "AWS SDK: AWS_REGION or the profile's region"
		}
	}
	all := s.All()
	for i := range all {
		st := &all[i]
		if st.Source != config.SourceDefault || st.Value != "" {
			continue
		}
		switch st.Key {
		case config.KeyRegion:
			st.Value, st.Origin = region, regionOrigin
			if region == "" {
				st.Origin = "none found: set --region, ODIN_REGION or AWS_REGION"
			}
		case config.KeyBucket:
			if local {
				st.Value, st.Origin = backend.DefaultBucket(backend.Local, server.DefaultAccount, region), "local backend"
				break
			}
			r := region
			if r == "" {
				r = "<region>"
			}
			st.Value, st.Origin = backend.DefaultBucket(backend.AWS, "<account>", r), "account from STS when used"
		case config.KeyProfile:
			if !local {
				st.Value, st.Origin = "default", "AWS SDK"
				if p, ok := opts.Env("AWS_PROFILE"); ok && p != "" {
					st.Value, st.Origin = p, "AWS_PROFILE"
				}
			}
		case config.KeyDataDir:
			st.Value = config.DefaultDataDir(opts.Env)
			if !local {
				st.Origin = "used by the local backend only"
			}
		}
	}
	return all
}
