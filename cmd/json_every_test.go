package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/odin-deploy/odin/pkg/iostreams"
)

// Every command honours --output json: its stdout is JSON and nothing else,
// and an error is one object {type: error, code, message} whose code is the
// exit code. Against the local backend, in process. A new command must be
// added here, or to the few whose output is not data.
func TestEveryCommandWritesJSON(t *testing.T) {
	o := startLocalOdin(t)
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	good := writeRelease(t, "release.yml", validLocal)
	empty := filepath.Join(t.TempDir(), "none")
	cases := map[string]struct {
		args []string
		code int
	}{
		"odin version":             {[]string{"version"}, 0},
		"odin schema":              {[]string{"schema"}, 0},
		"odin config":              {[]string{"config"}, 0},
		"odin exit-codes":          {[]string{"exit-codes"}, 0},
		"odin validate":            {[]string{"validate", good}, 0},
		"odin deploy":              {[]string{"deploy", filepath.Join(empty, "release.yml")}, 2},
		"odin status":              {[]string{"status", "no-such-execution"}, 2},
		"odin fail":                {[]string{"fail", "no-such-execution"}, 2},
		"odin halt":                {[]string{"halt", "--project", "p", "--release-config", "c"}, 1},
		"odin unlock":              {[]string{"unlock", "--project", "p", "--release-config", "c"}, 0},
		"odin history":             {[]string{"history", "--all"}, 0},
		"odin local status":        {[]string{"local", "status", "--data-dir", empty}, 1},
		"odin local stop":          {[]string{"local", "stop", "--data-dir", empty}, 0},
		"odin deployer definition": {[]string{"deployer", "definition"}, 0},
		"odin deployer install":    {[]string{"deployer", "install"}, 2},
		"odin deployer upgrade":    {[]string{"deployer", "upgrade"}, 2},
		"odin deployer status":     {[]string{"deployer", "status"}, 2},
		"odin deployer uninstall":  {[]string{"deployer", "uninstall", "--yes"}, 2},
		"odin deployer lambda":     {[]string{"deployer", "lambda"}, 2},
	}
	// What these print is not data: a shell script, prose, help, files, a
	// server's log, templates CloudFormation reads as YAML. local env and
	// start run a server of their own: TestLocalBackgroundLifecycle.
	notData := map[string]bool{"odin completion": true, "odin json-format": true, "odin help": true, "odin gen-docs": true,
		"odin local serve": true, "odin deployer template": true, "odin local env": true, "odin local start": true}

	f, _, _ := testFactory()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if !c.Runnable() || c.HasSubCommands() || notData[c.CommandPath()] {
			return
		}
		if _, ok := cases[c.CommandPath()]; !ok {
			t.Errorf("%s: no case for its --output json", c.CommandPath())
		}
	}
	walk(NewRootCmd(f))

	for name, tt := range cases {
		t.Run(name, func(t *testing.T) {
			io, _, out, errOut := iostreams.Test()
			f := o.factory(io, time.Now)
			f.Env = func(k string) (string, bool) {
				switch k {
				case "XDG_CONFIG_HOME":
					return o.dataDir, true
				case "ODIN_DATA_DIR":
					return o.dataDir, true
				}
				return "", false
			}
			code := Run(ctx, f, append(tt.args, "--output", "json"))
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errOut)
			}
			values := jsonValues(t, out.String())
			if len(values) == 0 {
				t.Fatalf("no JSON on stdout; stderr:\n%s", errOut)
			}
			var last JSONError
			_ = json.Unmarshal(values[len(values)-1], &last)
			if last.Type == "error" && (last.Code != code || last.Message == "") {
				t.Errorf("error object %+v with exit %d", last, code)
			}
			if code == 2 && last.Type != "error" {
				t.Errorf("exit 2 without an error object:\n%s", out)
			}
			if strings.HasPrefix(errOut.String(), "odin: ") {
				t.Errorf("the error went to stderr as text: %s", errOut)
			}
		})
	}
}

// jsonValues splits stdout into its JSON values; anything else fails t.
func jsonValues(t *testing.T, out string) []json.RawMessage {
	t.Helper()
	var values []json.RawMessage
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var v json.RawMessage
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return values
		}
		if err != nil {
			t.Fatalf("stdout is not only JSON (%v):\n%s", err, out)
		}
		values = append(values, v)
	}
}
