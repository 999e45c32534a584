package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func envOf(m map[string]string) Env {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func flags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("odin", pflag.ContinueOnError)
	RegisterFlags(fs)
	RegisterBackendFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

// A command that never opens a backend has no backend flags, but the
// backend settings still resolve from the environment and the config file.
func TestBackendFlagsOnlyWhereRegistered(t *testing.T) {
	fs := pflag.NewFlagSet("odin", pflag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	RegisterFlags(fs)
	if err := fs.Parse([]string{"--region", "eu-west-1"}); err == nil || !strings.Contains(err.Error(), "unknown flag: --region") {
		t.Errorf("--region without the backend flags: %v, want unknown flag", err)
	}
	for _, k := range BackendKeys {
		if fs.Lookup(k) != nil {
			t.Errorf("RegisterFlags registered backend flag --%s", k)
		}
	}
	file := writeConfig(t, "backend: aws\n")
	s, err := Load(fs, envOf(map[string]string{"ODIN_CONFIG": file, "ODIN_REGION": "us-west-2"}))
	if err != nil {
		t.Fatal(err)
	}
	if s.Backend != "aws" || s.Region != "us-west-2" || s.StateMachine != "odin-deployer" {
		t.Errorf("backend %q region %q state machine %q, want aws from the file, us-west-2 from the environment and the default", s.Backend, s.Region, s.StateMachine)
	}

	only := pflag.NewFlagSet("odin", pflag.ContinueOnError)
	RegisterBackendFlags(only, KeyRegion)
	if only.Lookup(KeyRegion) == nil || only.Lookup(KeyProfile) != nil || only.Lookup(KeyOutput) != nil {
		t.Error("RegisterBackendFlags(region) registered other flags than --region")
	}
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPrecedence(t *testing.T) {
	file := writeConfig(t, "backend: aws\nregion: eu-west-1\nbucket: from-file\nstate-machine: sm-file\n")
	env := envOf(map[string]string{"ODIN_CONFIG": file, "ODIN_REGION": "us-west-2", "ODIN_BUCKET": "from-env"})
	s, err := Load(flags(t, "--bucket", "from-flag"), env)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		key, value string
		source     Source
	}{
		{KeyBucket, "from-flag", SourceFlag},
		{KeyRegion, "us-west-2", SourceEnv},
		{KeyBackend, "aws", SourceFile},
		{KeyStateMachine, "sm-file", SourceFile},
		{KeyOutput, "auto", SourceDefault},
	}
	for _, c := range cases {
		got := s.get(c.key)
		if got.Value != c.value || got.Source != c.source {
			t.Errorf("%s = %q from %s, want %q from %s", c.key, got.Value, got.Source, c.value, c.source)
		}
	}
	if s.Backend != "aws" || s.Bucket != "from-flag" || s.Region != "us-west-2" || s.ConfigFile != file {
		t.Errorf("settings not assigned: %+v", s)
	}
}

func TestDefaultConfigFileIsOptional(t *testing.T) {
	s, err := Load(flags(t), envOf(map[string]string{"XDG_CONFIG_HOME": t.TempDir()}))
	if err != nil {
		t.Fatal(err)
	}
	if s.Backend != "local" || s.ConfigFile != "" || s.StateMachine != "odin-deployer" {
		t.Errorf("defaults: %+v", s)
	}
}

func TestXDGConfigFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "odin"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "odin", "config.yaml"), []byte("output: plain\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Load(flags(t), envOf(map[string]string{"XDG_CONFIG_HOME": dir}))
	if err != nil {
		t.Fatal(err)
	}
	if s.Output != "plain" || s.get(KeyOutput).Source != SourceFile {
		t.Errorf("output %q from %s", s.Output, s.get(KeyOutput).Source)
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
		file string
		want string
	}{
		{"bad backend flag", []string{"--backend", "gcp"}, nil, "", `--backend: invalid backend "gcp" (want one of: local, aws)`},
		{"bad output env", nil, map[string]string{"ODIN_OUTPUT": "xml"}, "", `ODIN_OUTPUT: invalid output "xml"`},
		{"bad bool env", nil, map[string]string{"ODIN_QUIET": "maybe"}, "", `ODIN_QUIET: invalid quiet "maybe" (want true or false)`},
		{"quiet and verbose", []string{"--quiet", "--verbose"}, nil, "", "--quiet and --verbose cannot be used together"},
		{"unknown key in file", nil, nil, "backend: aws\nbukcet: x\n", "unknown setting bukcet"},
		{"broken yaml", nil, nil, "backend: [aws\n", "config file"},
		{"missing explicit file", []string{"--config", "/nonexistent/odin.yaml"}, nil, "", "/nonexistent/odin.yaml"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{"XDG_CONFIG_HOME": t.TempDir()}
			for k, v := range c.env {
				env[k] = v
			}
			if c.file != "" {
				env["ODIN_CONFIG"] = writeConfig(t, c.file)
			}
			_, err := Load(flags(t, c.args...), envOf(env))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestEnvName(t *testing.T) {
	if got := EnvName(KeyStateMachine); got != "ODIN_STATE_MACHINE" {
		t.Fatal(got)
	}
}

func TestAccountRoles(t *testing.T) {
	const (
		a     = "111111111111"
		b     = "222222222222"
		roleA = "arn:aws:iam::111111111111:role/odin"
		roleB = "arn:aws-cn:iam::222222222222:role/path/odin-deployer"
	)
	file := writeConfig(t, "account-roles:\n  \""+a+"\": "+roleA+"\n  \""+b+"\": "+roleB+"\nassume-role: arn:aws:iam::333333333333:role/base\n")
	s, err := Load(flags(t, "--config", file), envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if s.RoleFor(a) != roleA || s.RoleFor(b) != roleB || s.RoleFor("444444444444") != "arn:aws:iam::333333333333:role/base" || s.RoleFor("") != "arn:aws:iam::333333333333:role/base" {
		t.Errorf("roles from the file: %v, assume-role %s", s.AccountRoles, s.AssumeRole)
	}
	if got := s.get(KeyAccountRoles).Value; got != a+"="+roleA+","+b+"="+roleB {
		t.Errorf("odin config would show %q", got)
	}
	s, err = Load(flags(t), envOf(map[string]string{"ODIN_ACCOUNT_ROLES": " " + a + " = " + roleA + " "}))
	if err != nil || s.RoleFor(a) != roleA || s.RoleFor(b) != "" {
		t.Errorf("roles from the environment: %v, %v", s.AccountRoles, err)
	}

	for value, want := range map[string]string{
		a:                "is not ACCOUNT=ROLE_ARN",
		a + "=":          "is not ACCOUNT=ROLE_ARN",
		"12345=" + roleA: `"12345" is not an AWS account id`,
		b + "=" + roleA:  "is in account 111111111111, not 222222222222",
		a + "=arn:aws:iam::111111111111:user/odin": "is not an IAM role ARN",
		a + "=arn:aws:iam::111111111111:role/":     "is not an IAM role ARN",
		a + "=" + roleA + "," + a + "=" + roleA:    "account 111111111111 is listed twice",
	} {
		_, err := Load(flags(t, "--account-roles", value), envOf(nil))
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "--account-roles: invalid account-roles: ") {
			t.Errorf("--account-roles %q: %v, want %q", value, err, want)
		}
	}
	octal := writeConfig(t, "account-roles:\n  011111111111: arn:aws:iam::011111111111:role/odin\n")
	if _, err := Load(flags(t, "--config", octal), envOf(nil)); err == nil || !strings.Contains(err.Error(), "quote it") || !strings.Contains(err.Error(), octal) {
		t.Errorf("an unquoted account id with a leading 0: %v", err)
	}
	if _, err := Load(flags(t), envOf(map[string]string{"ODIN_ASSUME_ROLE": "odin"})); err == nil || !strings.Contains(err.Error(), "ODIN_ASSUME_ROLE: invalid assume-role") {
		t.Errorf("a bad assume-role: %v", err)
	}
	if _, err := Load(flags(t, "--config", writeConfig(t, "account-role:\n  \""+a+"\": "+roleA+"\n")), envOf(nil)); err == nil || !strings.Contains(err.Error(), "unknown setting account-role.") {
		t.Errorf("a misspelt mapping: %v", err)
	}
}
