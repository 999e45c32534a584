package cmd

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Help groups a command's flags: its own, then the general flags every
// command takes (the config file and what odin prints), then the backend and AWS flags, on the commands that talk
// to a backend only.
const (
	annFlags   = "odin.flags"
	annOutput  = "odin.output"
	annBackend = "odin.backend"
)

// outputFlags are the global flags about what odin prints.
var outputFlags = map[string]bool{"config": true, "output": true, "no-color": true, "verbose": true, "quiet": true, "help": true, "version": true}

// noBackend are the commands that never open a backend: their help leaves
// the backend and AWS flags out.
var noBackend = map[string]bool{"odin schema": true, "odin validate": true, "odin version": true, "odin completion": true,
	"odin exit-codes": true, "odin json-format": true, "odin gen-docs": true, "odin help": true, "odin deployer template": true,
	"odin deployer definition": true}

// usageTemplate is cobra's, with the flags in the groups above.
const usageTemplate = `Usage:{{if .Runnable}}
  {{.UseLine}}{{end}}{{if .HasAvailableSubCommands}}
  {{.CommandPath}} [command]{{end}}{{if gt (len .Aliases) 0}}

Aliases:
  {{.NameAndAliases}}{{end}}{{if .HasExample}}

Examples:
{{.Example}}{{end}}{{if .HasAvailableSubCommands}}{{$cmds := .Commands}}{{if eq (len .Groups) 0}}

Available Commands:{{range $cmds}}{{if (or .IsAvailableCommand (eq .Name "help"))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{else}}{{range $group := .Groups}}

{{.Title}}{{range $cmds}}{{if (and (eq .GroupID $group.ID) (or .IsAvailableCommand (eq .Name "help")))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{if not .AllChildCommandsHaveGroup}}

Additional Commands:{{range $cmds}}{{if (and (eq .GroupID "") (or .IsAvailableCommand (eq .Name "help")))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{end}}{{end}}{{with index .Annotations "odin.flags"}}

Flags:
{{.}}{{end}}{{with index .Annotations "odin.output"}}

General flags:
{{.}}{{end}}{{with index .Annotations "odin.backend"}}

Backend and AWS flags:
{{.}}{{end}}{{if .HasAvailableSubCommands}}

Use "{{.CommandPath}} [command] --help" for more information about a command.{{end}}
`

// groupFlags sets the annotations usageTemplate prints c's flags from.
func groupFlags(c *cobra.Command) {
	global := c.Root().PersistentFlags()
	own, output, backend := pflag.NewFlagSet("", pflag.ContinueOnError), pflag.NewFlagSet("", pflag.ContinueOnError), pflag.NewFlagSet("", pflag.ContinueOnError)
	c.Flags().VisitAll(func(f *pflag.Flag) {
		switch {
		case f.Hidden:
		case outputFlags[f.Name]:
			output.AddFlag(f)
		case global.Lookup(f.Name) == f:
			if !noBackend[c.CommandPath()] {
				backend.AddFlag(f)
			}
		default:
			own.AddFlag(f)
		}
	})
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	for key, fs := range map[string]*pflag.FlagSet{annFlags: own, annOutput: output, annBackend: backend} {
		c.Annotations[key] = strings.TrimRight(fs.FlagUsages(), " \n")
	}
}

// groupedHelp wraps a help function so that it prints grouped flags.
func groupedHelp(help func(*cobra.Command, []string)) func(*cobra.Command, []string) {
	return func(c *cobra.Command, args []string) {
		groupFlags(c)
		help(c, args)
	}
}
