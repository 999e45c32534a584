package cmd

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/odin-deploy/odin/pkg/exitcode"
	"github.com/odin-deploy/odin/pkg/ghactions"
	"github.com/odin-deploy/odin/pkg/iostreams"
	"github.com/odin-deploy/odin/pkg/release"
)

// ValidateOptions are the inputs of `odin validate`.
type ValidateOptions struct {
	IO    *iostreams.IOStreams
	Files []string
	// JSON prints every problem as one JSON array on stdout.
	JSON bool
	// Quiet leaves out the "FILE: ok" lines.
	Quiet bool
	// GitHub prints every problem as an ::error annotation (--output
	// github, or auto in GitHub Actions) and appends a step summary.
	GitHub bool
	Env    func(string) (string, bool)
}

func newValidateCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "validate [FILE...]",
		Short: "Check release files against the schema and odin's rules",
		Long: `Check release files without deploying them: YAML syntax, the schema
(odin schema prints it), then rules the schema cannot say (unique listen ports,
min_size <= max_size, grace periods within the timeout, ...). With no file, the
release.yml (or release.yaml) in the current directory, as deploy does.

Every problem is printed as FILE:LINE:COL: message, all of them at once, in
file order, on stderr; with --output json, as a JSON array of
{file, line, col, message} on stdout. A valid file prints FILE: ok unless
--quiet. The exit code is 2 when any file has a problem.`,
		Example: "  odin validate examples/hello/release.yml\n  odin validate --output json release.yml | jq -r '.[].message'",
		Args:    usageArgs(cobra.ArbitraryArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				file, err := defaultReleaseFile("odin validate FILE...")
				if err != nil {
					return err
				}
				args = []string{file}
			}
			return validateRun(&ValidateOptions{
				IO:     f.IO,
				Files:  args,
				JSON:   f.Settings.Output == "json",
				Quiet:  f.Settings.Quiet,
				GitHub: githubOutput(f),
				Env:    f.Env,
			})
		},
	}
}

func validateRun(opts *ValidateOptions) error {
	all := release.Problems{}
	for _, file := range opts.Files {
		_, err := release.Load(file)
		var ps release.Problems
		switch {
		case err == nil:
			if !opts.JSON && !opts.Quiet {
				fmt.Fprintf(opts.IO.Out, "%s: ok\n", file)
			}
			continue
		case errors.As(err, &ps):
		default:
			// Unreadable: no position to give, so line and column are 0.
			ps = release.Problems{{File: file, Message: err.Error()}}
		}
		all = append(all, ps...)
		if opts.GitHub {
			writeProblemAnnotations(opts.IO.Out, ps)
			continue
		}
		if !opts.JSON {
			for _, p := range ps {
				if p.Line == 0 {
					fmt.Fprintf(opts.IO.ErrOut, "%s: %s\n", p.File, p.Message)
				} else {
					fmt.Fprintln(opts.IO.ErrOut, p.String())
				}
			}
		}
	}
	if opts.JSON {
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(all); err != nil {
			return err
		}
	}
	if opts.GitHub {
		if err := ghactions.AppendSummary(opts.Env, problemsSummary("validate", opts.Files, all)); err != nil {
			return err
		}
	}
	if len(all) > 0 {
		// Already printed; the exit code says the rest.
		return exitcode.New(exitcode.Usage, nil)
	}
	return nil
}
