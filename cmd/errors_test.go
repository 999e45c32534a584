package cmd

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// awsWithout points the AWS SDK at empty configuration: no credentials, no
// region, no profiles, no instance metadata.
func awsWithout(t *testing.T) {
	dir := t.TempDir()
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// sdkLog is a line of the AWS SDK's own logging.
var sdkLog = regexp.MustCompile(`SDK \d{4}/\d\d/\d\d`)

// Every error a first-time user meets names the fix, and exits with the
// documented code: configuration errors 2.
func TestErrorsSayWhatToDo(t *testing.T) {
	awsWithout(t)
	t.Chdir(t.TempDir()) // no release.yml here
	tests := []struct {
		name string
		args []string
		code int
		want []string // parts of the message
	}{
		{"no credentials", []string{"status", "x", "--backend", "aws", "--region", "us-east-1"}, 2,
			[]string{"no AWS credentials found: configure them with: aws configure", "AWS_ACCESS_KEY_ID", "--profile"}},
		{"a profile's credentials", []string{"status", "x", "--backend", "aws", "--region", "us-east-1", "--profile", "dev"}, 2,
			[]string{`no AWS profile "dev"`, "aws configure --profile dev"}},
		{"a mistyped region", []string{"status", "x", "--backend", "aws", "--region", "us-esat-1"}, 2,
			[]string{`unknown AWS region "us-esat-1" (did you mean us-east-1?)`}},
		{"a mistyped region on the local backend", []string{"status", "x", "--region", "eu-wset-1"}, 2,
			[]string{`unknown AWS region "eu-wset-1" (did you mean eu-west-1?)`}},
		{"no region", []string{"status", "x", "--backend", "aws"}, 2,
			[]string{"no AWS region: set one with --region, ODIN_REGION or AWS_REGION", "aws configure set region REGION"}},
		{"a mistyped command", []string{"deplyo"}, 2, []string{`unknown command "deplyo" for "odin"; did you mean deploy?`}},
		{"a mistyped sub-command", []string{"local", "strat"}, 2, []string{`did you mean start?`}},
		{"deploy with no file here", []string{"deploy"}, 2,
			[]string{"no release file here (release.yml or release.yaml): give one: odin deploy FILE"}},
		{"validate with no file here", []string{"validate"}, 2,
			[]string{"no release file here (release.yml or release.yaml): give one: odin validate FILE..."}},
		{"history with no argument", []string{"history"}, 2,
			[]string{"give a release file, --project and --release-config, or --all"}},
		{"unlock with no argument", []string{"unlock"}, 2, []string{"give a release file, or --project and --release-config"}},
		{"fail with no argument", []string{"fail"}, 2, []string{"give an execution, a release file, or --project and --release-config"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _, errOut := testFactory()
			code := Run(context.Background(), f, tt.args)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr %q", code, tt.code, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("stderr %q lacks %q", errOut, w)
				}
			}
			// The SDK's own logging ("SDK 2026/... WARN ...") is --verbose's.
			if sdkLog.MatchString(errOut.String()) || strings.Count(strings.TrimSpace(errOut.String()), "\n") > 0 {
				t.Errorf("more than the one error line on stderr: %q", errOut)
			}
		})
	}
}

// On a machine where the instance metadata service answers but has no
// token API and no role (a container, an old proxy), the SDK falls back to
// IMDSv1 and says so with a WARN line of its own. odin's error names the
// fix and nothing else; --verbose shows the SDK's line. The service is a
// stand-in: a real one only runs on EC2.
func TestNoCredentialsWithInstanceMetadataWithoutRole(t *testing.T) {
	awsWithout(t)
	t.Chdir(t.TempDir())
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.NotFound(w, nil) }))
	defer imds.Close()
	os.Unsetenv("AWS_EC2_METADATA_DISABLED")
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.URL)

	// The SDK's default logger writes to the process's stderr, not odin's.
	stderr, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = stderr
	args := []string{"status", "x", "--backend", "aws", "--region", "us-east-1"}
	f, _, errOut := testFactory()
	code := Run(context.Background(), f, args)
	os.Stderr = saved
	if code != 2 || !strings.Contains(errOut.String(), "no AWS credentials found: configure them with: aws configure") {
		t.Errorf("exit %d, stderr %q; want 2 and the fix", code, errOut)
	}
	leaked, _ := os.ReadFile(stderr.Name())
	if all := errOut.String() + string(leaked); sdkLog.MatchString(all) || strings.Contains(all, "IMDSv1") {
		t.Errorf("the SDK's own logging leaks without --verbose: %q", all)
	}

	f, _, errOut = testFactory()
	Run(context.Background(), f, append(args, "--verbose"))
	if !strings.Contains(errOut.String(), "falling back to IMDSv1") {
		t.Errorf("--verbose does not show the SDK's warning: %q", errOut)
	}
}

// On AWS, deploy opens the backend while it validates the release. An
// invalid release is still what it says, before (and instead of) what the
// opening met: here, no credentials. A valid one gets the opening's error.
func TestDeployNamesTheReleaseBeforeTheCredentials(t *testing.T) {
	awsWithout(t)
	dir := t.TempDir()
	valid, err := os.ReadFile(filepath.Join("..", "examples", "aws", "release.yml"))
	if err != nil {
		t.Fatal(err)
	}
	invalid := strings.Replace(string(valid), "project_name:", "project_nme:", 1)
	for _, tt := range []struct {
		name, release string
		want, not     string
	}{
		{"invalid release", invalid, `unknown key "project_nme" (did you mean "project_name"?)`, "credentials"},
		{"valid release", string(valid), "no AWS credentials found", "invalid release"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".yml")
			if err := os.WriteFile(file, []byte(tt.release), 0o600); err != nil {
				t.Fatal(err)
			}
			f, _, errOut := testFactory()
			code := Run(context.Background(), f, []string{"deploy", file, "--backend", "aws", "--region", "us-east-1"})
			if code != 2 || !strings.Contains(errOut.String(), tt.want) || strings.Contains(errOut.String(), tt.not) {
				t.Errorf("exit %d, stderr %q; want 2 with %q and without %q", code, errOut, tt.want, tt.not)
			}
		})
	}
}
