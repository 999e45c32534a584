package cmd

import (
	"github.com/spf13/cobra"

	"github.com/odin-deploy/odin/pkg/iostreams"
	"github.com/odin-deploy/odin/schema"
)

// SchemaOptions are the inputs of `odin schema`.
type SchemaOptions struct {
	IO *iostreams.IOStreams
}

func newSchemaCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of release files",
		Long: `Print the JSON Schema (draft 2020-12) that release files are validated
against, with a description, default and bounds for every field. Point an
editor at it for completion and inline errors, for example with a first line of
  # yaml-language-server: $schema=./release.schema.json`,
		Example: "  odin schema > release.schema.json",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return schemaRun(&SchemaOptions{IO: f.IO})
		},
	}
}

func schemaRun(opts *SchemaOptions) error {
	_, err := opts.IO.Out.Write(schema.JSON())
	return err
}
