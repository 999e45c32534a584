package cmd

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/odin-deploy/odin/pkg/config"
)

// Help groups a command's flags: its own, then the general flags every
// command takes (the config file and what odin prints), then the backend
// and AWS flags, which only the commands that use them have
// (withBackendFlags).
const (
	annFlags   = "odin.flags"
	annOutput  = "odin.output"
	annBackend = "odin.backend"
)

// outputFlags are the global flags about what odin prints.
var outputFlags = map[string]bool{"config": true, "output": true, "no-color": true, "verbose": true, "quiet": true, "help": true, "version": true}

// usage prints what cobra's usage template printed, with the flags in the
// groups above. It is Go, not a template: text/template looks methods up by
// name, which makes the linker keep every exported method of every type in
// the binary (all of the AWS SDK's operations, 30 MB of them) and costs
// start-up time in every command.
func usage(c *cobra.Command) error {
	c.InheritedFlags() // merges the persistent flags, as cobra's usage does
	var b strings.Builder
	b.WriteString("Usage:")
	if c.Runnable() {
		b.WriteString("\n  " + c.UseLine())
	}
	if c.HasAvailableSubCommands() {
		b.WriteString("\n  " + c.CommandPath() + " [command]")
	}
	if len(c.Aliases) > 0 {
		b.WriteString("\n\nAliases:\n  " + c.NameAndAliases())
	}
	if c.HasExample() {
		b.WriteString("\n\nExamples:\n" + c.Example)
	}
	if c.HasAvailableSubCommands() {
		list := func(group string) {
			for _, sub := range c.Commands() {
				if sub.GroupID == group && (sub.IsAvailableCommand() || sub.Name() == "help") {
					fmt.Fprintf(&b, "\n  %-*s %s", sub.NamePadding(), sub.Name(), sub.Short)
				}
			}
		}
		if len(c.Groups()) == 0 {
			b.WriteString("\n\nAvailable Commands:")
			for _, sub := range c.Commands() {
				if sub.IsAvailableCommand() || sub.Name() == "help" {
					fmt.Fprintf(&b, "\n  %-*s %s", sub.NamePadding(), sub.Name(), sub.Short)
				}
			}
		} else {
			for _, g := range c.Groups() {
				b.WriteString("\n\n" + g.Title)
				list(g.ID)
			}
			if !c.AllChildCommandsHaveGroup() {
				b.WriteString("\n\nAdditional Commands:")
				list("")
			}
		}
	}
	for _, section := range []struct{ key, title string }{
		{annFlags, "Flags:"}, {annOutput, "General flags:"}, {annBackend, "Backend and AWS flags:"},
	} {
		if text := c.Annotations[section.key]; text != "" {
			b.WriteString("\n\n" + section.title + "\n" + text)
		}
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(&b, "\n\nUse \"%s [command] --help\" for more information about a command.", c.CommandPath())
	}
	b.WriteString("\n")
	_, err := io.WriteString(c.OutOrStderr(), b.String())
	return err
}

// groupFlags sets the annotations usageTemplate prints c's flags from.
func groupFlags(c *cobra.Command) {
	own, output, backend := pflag.NewFlagSet("", pflag.ContinueOnError), pflag.NewFlagSet("", pflag.ContinueOnError), pflag.NewFlagSet("", pflag.ContinueOnError)
	c.Flags().VisitAll(func(f *pflag.Flag) {
		switch {
		case f.Hidden:
		case outputFlags[f.Name]:
			output.AddFlag(f)
		case f.Annotations[config.BackendAnnotation] != nil:
			backend.AddFlag(f)
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
