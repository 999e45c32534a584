package cmd

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/spf13/cobra"

	"github.com/odin-deploy/odin/pkg/config"
	"github.com/odin-deploy/odin/pkg/local/access"
	"github.com/odin-deploy/odin/pkg/local/server"
)

// completionTimeout bounds the backend calls a completion makes: a shell
// waiting on Tab must never hang.
const completionTimeout = 2 * time.Second

// completeExecutionsOrFiles completes execution names from the backend (newest
// first) and release files from the disk. It never starts a local backend:
// with none running there is nothing to list.
func completeExecutionsOrFiles(f *Factory) cobra.CompletionFunc {
	return completeExecutionsIn(f, "")
}

// completeRunningOrFiles is completeExecutionsOrFiles for commands that act
// on a running deploy (halt).
func completeRunningOrFiles(f *Factory) cobra.CompletionFunc {
	return completeExecutionsIn(f, sfntypes.ExecutionStatusRunning)
}

// completeFiles completes one release file argument.
func completeFiles(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return []string{"yml", "yaml"}, cobra.ShellCompDirectiveFilterFileExt
}

func completeExecutionsIn(f *Factory, status sfntypes.ExecutionStatus) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		// Something that looks like a path: let the shell complete files.
		if strings.ContainsAny(toComplete, "./") {
			return []string{"yml", "yaml"}, cobra.ShellCompDirectiveFilterFileExt
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), completionTimeout)
		defer cancel()
		names, _ := executionNames(ctx, f, cmd, toComplete, status)
		// With candidates the shell offers only them, so the release files
		// here are among them; with none it falls back to every file.
		return append(releaseFilesHere(toComplete), names...), cobra.ShellCompDirectiveDefault
	}
}

// releaseFilesHere are the YAML files in the current directory whose names
// begin with prefix.
func releaseFilesHere(prefix string) []string {
	entries, err := os.ReadDir(".")
	if err != nil {
		return nil
	}
	var files []string
	for _, e := range entries {
		name := e.Name()
		ext := strings.ToLower(filepath.Ext(name))
		if e.Type().IsRegular() && (ext == ".yml" || ext == ".yaml") && strings.HasPrefix(name, prefix) {
			files = append(files, name+"\trelease file")
		}
	}
	return files
}

func executionNames(ctx context.Context, f *Factory, cmd *cobra.Command, prefix string, status sfntypes.ExecutionStatus) ([]string, error) {
	settings, err := config.Load(cmd.Flags(), f.Env)
	if err != nil {
		return nil, err
	}
	probe := *f
	probe.Settings = settings
	probe.StartLocal = func(ctx context.Context, dataDir string) (access.Endpoint, error) {
		st, err := server.Probe(ctx, dataDir)
		if err != nil || !st.Running {
			return access.Endpoint{}, errors.New("no local backend running")
		}
		return st.Endpoint, nil
	}
	b, err := probe.Backend(ctx, false, "")
	if err != nil {
		return nil, err
	}
	out, err := b.SFN.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(b.StateMachineArn), MaxResults: 100, StatusFilter: status})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range out.Executions {
		if n := aws.ToString(e.Name); strings.HasPrefix(n, prefix) {
			names = append(names, n+"\t"+string(e.Status))
		}
	}
	return names, nil
}
