package cmd

import (
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/odin-deploy/odin/pkg/config"
	"github.com/odin-deploy/odin/pkg/iostreams"
)

// odin config shows the value a default resolves to, and where from, not
// the "" it holds until the backend is opened; nothing is started or called.
func TestConfigShowsResolvedDefaults(t *testing.T) {
	dir := t.TempDir()
	// The AWS SDK's chain reads these; no real profile may leak in.
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	tests := []struct {
		name      string
		env       map[string]string
		awsRegion string
		args      []string
		want      map[string]string // setting -> its line's VALUE and SOURCE
	}{
		{"local", nil, "", nil, map[string]string{
			"region":        `us-east-1\s+default \(local backend\)`,
			"bucket":        `odin-releases\s+default \(local backend\)`,
			"data-dir":      regexp.QuoteMeta(filepath.Join(dir, "state", "odin")) + `\s+default$`,
			"state-machine": `odin-deployer\s+default$`,
			"profile":       `\(none\)\s+default$`,
		}},
		{"local with a region", nil, "", []string{"--region", "eu-west-1"}, map[string]string{
			"region": `eu-west-1\s+flag \(--region\)`,
		}},
		{"aws", map[string]string{"ODIN_BACKEND": "aws"}, "eu-west-2", nil, map[string]string{
			"region":   `eu-west-2\s+default \(AWS SDK: AWS_REGION or the profile's region\)`,
			"bucket":   `odin-<account>-eu-west-2\s+default \(account from STS when used\)`,
			"data-dir": `\S+\s+default \(used by the local backend only\)`,
			"profile":  `default\s+default \(AWS SDK\)`,
		}},
		{"aws without a region", map[string]string{"ODIN_BACKEND": "aws"}, "", nil, map[string]string{
			"region": `\(none\)\s+default \(none found: set --region, ODIN_REGION or AWS_REGION\)`,
			"bucket": `odin-<account>-<region>\s+default \(account from STS when used\)`,
		}},
		{"aws with a bucket", map[string]string{"ODIN_BACKEND": "aws", "ODIN_BUCKET": "releases", "AWS_PROFILE": "prod"}, "eu-west-2", nil, map[string]string{
			"bucket":  `releases\s+env \(ODIN_BUCKET\)`,
			"profile": `prod\s+default \(AWS_PROFILE\)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("AWS_REGION", tt.awsRegion)
			env := map[string]string{"XDG_CONFIG_HOME": filepath.Join(dir, "config"), "XDG_STATE_HOME": filepath.Join(dir, "state")}
			for k, v := range tt.env {
				env[k] = v
			}
			io, _, out, errOut := iostreams.Test()
			f := &Factory{IO: io, Now: time.Now, Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
			if code := Run(context.Background(), f, append([]string{"config"}, tt.args...)); code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for key, want := range tt.want {
				re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + `\s+` + want)
				if !re.MatchString(out.String()) {
					t.Errorf("%s: no line matching %s in\n%s", key, re, out)
				}
			}
		})
	}
}

// The JSON form carries the resolved values too.
func TestConfigJSONShowsResolvedDefaults(t *testing.T) {
	dir := t.TempDir()
	io, _, out, errOut := iostreams.Test()
	env := map[string]string{"XDG_CONFIG_HOME": dir, "XDG_STATE_HOME": dir}
	f := &Factory{IO: io, Now: time.Now, Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	if code := Run(context.Background(), f, []string{"config", "--output", "json"}); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got struct{ Settings []config.Setting }
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"region": "us-east-1", "bucket": "odin-releases", "data-dir": filepath.Join(dir, "odin")}
	for _, s := range got.Settings {
		w, ok := want[s.Key]
		if !ok {
			continue
		}
		delete(want, s.Key)
		if s.Value != w || s.Source != config.SourceDefault {
			t.Errorf("%s = %q from %s, want %q from default", s.Key, s.Value, s.Source, w)
		}
	}
	if len(want) > 0 {
		t.Errorf("settings missing from the JSON: %v", want)
	}
}
