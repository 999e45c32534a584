package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/odin-deploy/odin/pkg/backend"
	"github.com/odin-deploy/odin/pkg/diagnose"
	"github.com/odin-deploy/odin/pkg/exitcode"
	"github.com/odin-deploy/odin/pkg/ghactions"
	"github.com/odin-deploy/odin/pkg/progress"
	"github.com/odin-deploy/odin/pkg/release"
	"github.com/odin-deploy/odin/pkg/ui"
)

// outputMode is the --output value in effect: auto means github inside a
// GitHub Actions job (the runner sets GITHUB_ACTIONS=true), where stdout is
// a log that understands workflow commands.
func outputMode(f *Factory) string {
	if (f.Settings.Output == "" || f.Settings.Output == "auto") && ghactions.Detected(f.Env) {
		return string(ui.ModeGitHub)
	}
	return f.Settings.Output
}

func githubOutput(f *Factory) bool { return outputMode(f) == string(ui.ModeGitHub) }

// annotateError repeats an error odin exits with as an ::error in a GitHub
// Actions log, so the run's page says why the step failed; an invalid
// release's problems have their own annotations already.
func annotateError(f *Factory, err error, msg string) {
	var ps release.Problems
	if f.Settings == nil || !githubOutput(f) || errors.As(err, &ps) {
		return
	}
	fmt.Fprintln(f.IO.Out, ghactions.Annotation{Title: "odin", Message: msg}.Error())
}

// writeProblemAnnotations prints an ::error for every problem of a release
// file, which GitHub shows next to its line in a pull request.
func writeProblemAnnotations(w io.Writer, ps release.Problems) {
	for _, p := range ps {
		fmt.Fprintln(w, ghactions.Annotation{Title: "invalid release", File: p.File, Line: p.Line, Col: p.Col, Message: p.Message}.Error())
	}
}

// problemsSummary is the step summary of release files checked by validate
// or refused by deploy: one row per file that is fine, one per problem.
func problemsSummary(command string, files []string, ps release.Problems) string {
	var b strings.Builder
	if len(ps) == 0 {
		fmt.Fprintf(&b, "### ✅ odin %s: %d release file(s) valid\n\n", command, len(files))
	} else {
		fmt.Fprintf(&b, "### ❌ odin %s: %d problem(s) in release files\n\n", command, len(ps))
	}
	b.WriteString("| File | Line | Col | Problem |\n|---|--:|--:|---|\n")
	bad := map[string]bool{}
	for _, p := range ps {
		bad[p.File] = true
		fmt.Fprintf(&b, "| %s | %d | %d | %s |\n", ghactions.Cell(p.File), p.Line, p.Col, ghactions.Cell(p.Message))
	}
	for _, file := range files {
		if !bad[file] {
			fmt.Fprintf(&b, "| %s | | | ok |\n", ghactions.Cell(file))
		}
	}
	b.WriteString("\n")
	return b.String()
}

// githubDeployRefused annotates a release file deploy refused as invalid
// and writes the step summary.
func githubDeployRefused(f *Factory, file string, err error) {
	var ps release.Problems
	if errors.As(err, &ps) {
		writeProblemAnnotations(f.IO.Out, ps)
	} else {
		ps = release.Problems{{File: file, Message: err.Error()}} // annotateError says it
	}
	if serr := ghactions.AppendSummary(f.Env, problemsSummary("deploy", []string{file}, ps)); serr != nil {
		fmt.Fprintf(f.IO.ErrOut, "odin: %v\n", serr)
	}
}

// githubDeploySummary writes the step summary of a watched deploy; for one
// that failed it quotes the odin fail report of the execution. A summary
// that cannot be written is a warning: the deploy's outcome is the verdict.
func githubDeploySummary(ctx context.Context, f *Factory, b *backend.Backend, arn string, m *progress.Model, v progress.Verdict) {
	if path, _ := f.Env("GITHUB_STEP_SUMMARY"); path == "" {
		return
	}
	var report string
	if v.Code != exitcode.OK && v.Code != exitcode.Running {
		if r, err := explainExecution(ctx, b.SFN, arn, b.Account, diagnose.Options{}); err == nil {
			var text strings.Builder
			if r.WriteText(&text) == nil {
				report = text.String()
			}
		} else {
			report = "odin fail could not explain it: " + err.Error()
		}
	}
	var md strings.Builder
	err := ui.WriteStepSummary(&md, m, v, f.Now(), report)
	if err == nil {
		err = ghactions.AppendSummary(f.Env, md.String())
	}
	if err != nil {
		fmt.Fprintf(f.IO.ErrOut, "odin: %v\n", err)
	}
}
