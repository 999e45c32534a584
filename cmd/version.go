package cmd

import (
	"encoding/json"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

func newVersionCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print odin's version, commit and build date",
		Args:    usageArgs(cobra.NoArgs),
		Example: "  odin version\n  odin version --output json",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.Settings.Output == "json" {
				return json.NewEncoder(f.IO.Out).Encode(map[string]string{"version": version, "commit": commit, "date": date})
			}
			_, err := fmt.Fprintln(f.IO.Out, versionLine())
			return err
		},
	}
}

// stampFromBuildInfo fills in what the linker did not stamp (a build by
// `go install github.com/odin-deploy/odin@v1.2.3` or `go build`, rather
// than a release build): the module's version, and the commit and its time
// that the go command records from git.
func stampFromBuildInfo() {
	if bi, ok := debug.ReadBuildInfo(); ok {
		version, commit, date = fromBuildInfo(bi, version, commit, date)
	}
}

func fromBuildInfo(bi *debug.BuildInfo, v, c, d string) (string, string, string) {
	if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = strings.TrimPrefix(bi.Main.Version, "v")
	}
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if c == "none" && s.Value != "" {
				c = s.Value[:min(len(s.Value), 7)]
			}
		case "vcs.time":
			if d == "unknown" && s.Value != "" {
				d = s.Value
			}
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && c != "none" && !strings.HasSuffix(c, "-dirty") {
		c += "-dirty"
	}
	return v, c, d
}
