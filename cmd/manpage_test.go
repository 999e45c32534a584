package cmd

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Every command gets a man page that keeps the <placeholders> of its help
// (cobra/doc's Markdown conversion dropped them as HTML tags), and groff
// reads every page without a warning.
func TestManPages(t *testing.T) {
	dir := t.TempDir()
	f, _, errOut := testFactory()
	if code := Run(t.Context(), f, []string{"gen-docs", "--man", dir}); code != 0 {
		t.Fatalf("gen-docs: exit %d: %s", code, errOut)
	}
	placeholder := regexp.MustCompile(`<[a-z][a-z _-]*>`)
	var walk func(c *cobra.Command)
	pages := 0
	walk = func(c *cobra.Command) {
		if !c.IsAvailableCommand() && c.HasParent() {
			return
		}
		path := filepath.Join(dir, strings.ReplaceAll(c.CommandPath(), " ", "-")+".1")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("no man page for %s: %v", c.CommandPath(), err)
			return
		}
		pages++
		for _, p := range placeholder.FindAllString(c.Long, -1) {
			if !strings.Contains(string(b), p) {
				t.Errorf("%s lost %s", filepath.Base(path), p)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(NewRootCmd(f))
	if pages < 20 {
		t.Errorf("%d man pages", pages)
	}
	b, err := os.ReadFile(filepath.Join(dir, "odin-deploy.1"))
	if err != nil || !strings.Contains(string(b), "deploy-<project>_<config>_<release id>-<attempt>") {
		t.Errorf("odin-deploy.1 lacks the execution name's parts (%v)", err)
	}
	groff, err := exec.LookPath("groff")
	if err != nil {
		t.Skip("groff is not installed: the pages are not rendered")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.1"))
	out, err := exec.Command(groff, append([]string{"-man", "-ww", "-z"}, files...)...).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("groff: %v\n%s", err, out)
	}
}
