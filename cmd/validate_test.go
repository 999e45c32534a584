package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/odin-deploy/odin/pkg/exitcode"
	"github.com/odin-deploy/odin/pkg/iostreams"
	"github.com/odin-deploy/odin/pkg/release"
	"github.com/odin-deploy/odin/schema"
)

func testFactory() (*Factory, *bytes.Buffer, *bytes.Buffer) {
	ios, _, out, errOut := iostreams.Test()
	env := func(string) (string, bool) { return "", false }
	return &Factory{IO: ios, Env: env, Now: time.Now}, out, errOut
}

func writeRelease(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const validLocal = "project_name: hello\nconfig_name: dev\ntarget: local\nservices:\n  web:\n    command: [go, run, .]\n    listen: 8080\n"

func TestValidateRun(t *testing.T) {
	good := writeRelease(t, "good.yml", validLocal)
	bad := writeRelease(t, "bad.yml", validLocal+"timeout: 5\nrelease_id: x\n")
	missing := filepath.Join(t.TempDir(), "missing.yml")
	tests := []struct {
		name           string
		opts           ValidateOptions
		code           int
		stdout, stderr string
	}{
		{"valid", ValidateOptions{Files: []string{good}}, exitcode.OK, good + ": ok\n", ""},
		{"valid quiet", ValidateOptions{Files: []string{good}, Quiet: true}, exitcode.OK, "", ""},
		{"invalid", ValidateOptions{Files: []string{good, bad}}, exitcode.Usage, good + ": ok\n",
			bad + ":8:10: timeout: must be at least 30, not 5\n" + bad + ":9:1: release_id is set by odin, not the release file\n"},
		{"unreadable", ValidateOptions{Files: []string{missing}}, exitcode.Usage, "",
			missing + ": read release file: open " + missing + ": no such file or directory\n"},
		{"json valid", ValidateOptions{Files: []string{good}, JSON: true}, exitcode.OK, "[]\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, out, errOut := iostreams.Test()
			tt.opts.IO = ios
			err := validateRun(&tt.opts)
			if code := exitcode.Of(err); code != tt.code {
				t.Errorf("exit code %d (%v), want %d", code, err, tt.code)
			}
			if out.String() != tt.stdout || errOut.String() != tt.stderr {
				t.Errorf("stdout %q\nstderr %q\nwant %q\nand  %q", out, errOut, tt.stdout, tt.stderr)
			}
		})
	}
}

func TestValidateJSON(t *testing.T) {
	bad := writeRelease(t, "bad.yml", validLocal+"timeout: 5\n")
	ios, _, out, errOut := iostreams.Test()
	err := validateRun(&ValidateOptions{IO: ios, Files: []string{bad}, JSON: true})
	if exitcode.Of(err) != exitcode.Usage || errOut.Len() != 0 {
		t.Fatalf("exit %d, stderr %q", exitcode.Of(err), errOut)
	}
	var got []release.Problem
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("stdout is not a JSON array of problems: %v\n%s", err, out)
	}
	want := []release.Problem{{File: bad, Line: 8, Col: 10, Message: "timeout: must be at least 30, not 5"}}
	if len(got) != 1 || got[0] != want[0] {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if !strings.Contains(out.String(), `"col": 10`) {
		t.Fatalf("JSON keys are not file/line/col/message: %s", out)
	}
}

// TestValidateFlags goes through argv: the global --output and --quiet flags
// reach the options, and no file is bad usage.
func TestValidateFlags(t *testing.T) {
	good := writeRelease(t, "good.yml", validLocal)
	tests := []struct {
		args   []string
		code   int
		stdout string
	}{
		{[]string{"validate", good}, exitcode.OK, good + ": ok\n"},
		{[]string{"validate", "--quiet", good}, exitcode.OK, ""},
		{[]string{"validate", "--output", "json", good}, exitcode.OK, "[]\n"},
		{[]string{"validate"}, exitcode.Usage, ""},
	}
	for _, tt := range tests {
		f, out, errOut := testFactory()
		if code := Run(context.Background(), f, tt.args); code != tt.code || out.String() != tt.stdout {
			t.Errorf("odin %v = %d, stdout %q (stderr %q); want %d, %q", tt.args, code, out, errOut, tt.code, tt.stdout)
		}
	}

	// With no file, the one here, as deploy takes it.
	t.Chdir(filepath.Dir(writeRelease(t, "release.yml", validLocal)))
	f, out, errOut := testFactory()
	if code := Run(context.Background(), f, []string{"validate"}); code != exitcode.OK || out.String() != "release.yml: ok\n" {
		t.Errorf("odin validate beside release.yml = %d, stdout %q (stderr %q); want 0 and release.yml: ok", code, out, errOut)
	}
}

func TestSchemaCommand(t *testing.T) {
	f, out, _ := testFactory()
	if code := Run(context.Background(), f, []string{"schema"}); code != exitcode.OK {
		t.Fatalf("odin schema = %d", code)
	}
	if !bytes.Equal(out.Bytes(), schema.JSON()) || !json.Valid(out.Bytes()) {
		t.Fatal("odin schema did not print the embedded schema")
	}
}
