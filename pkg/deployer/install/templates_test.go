package install

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/odin-deploy/odin/pkg/deployer"
)

var update = flag.Bool("update", false, "rewrite golden files")

// cfnLintRequireEnv names the environment variable that turns "cfn-lint is absent" from a
// skip into a failure; CI sets it.
const cfnLintRequireEnv = "ODIN_REQUIRE_CFNLINT"

var templates = []struct {
	stack string
	file  string
	body  func() []byte
}{
	{BucketStack, "bucket.template.yaml", BucketTemplate},
	{DeployerStack, "deployer.template.yaml", DeployerTemplate},
	{TargetStack, "target.template.yaml", TargetTemplate},
}

func TestTemplatesMatchGoldens(t *testing.T) {
	for _, tt := range templates {
		t.Run(tt.stack, func(t *testing.T) {
			got := tt.body()
			path := filepath.Join("testdata", tt.file)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s (run go test -update and review the diff)", tt.stack, path)
			}
			if !bytes.Equal(got, tt.body()) {
				t.Errorf("%s: two calls built different templates", tt.stack)
			}
		})
	}
}

// The state machine is created from Fn::Sub over the definition: every ${...} in it is
// resolved by CloudFormation, so the function's ARN must be the only one. The function is
// checked here for what moto ignores (Architectures).
func TestDeployerTemplate(t *testing.T) {
	var tmpl struct {
		Resources map[string]struct {
			Properties map[string]any `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(DeployerTemplate(), &tmpl); err != nil {
		t.Fatal(err)
	}
	def, ok := tmpl.Resources["StateMachine"].Properties["DefinitionString"].(map[string]any)["Fn::Sub"].(string)
	if !ok {
		t.Fatalf("StateMachine's DefinitionString is not an Fn::Sub of a string: %#v", tmpl.Resources["StateMachine"].Properties["DefinitionString"])
	}
	if rest := strings.ReplaceAll(def, "${Function.Arn}", ""); strings.Contains(rest, "${") {
		t.Errorf("the definition has a ${...} other than ${Function.Arn}, which Fn::Sub would resolve")
	}
	const arn = "arn:aws:lambda:eu-west-1:210987654321:function:odin-deployer"
	if got := strings.ReplaceAll(def, "${Function.Arn}", arn); got != string(deployer.Definition(arn)) {
		t.Errorf("the template's definition is not deployer.Definition")
	}
	if fn := tmpl.Resources["Function"].Properties; fn["Architectures"].([]any)[0] != "arm64" || fn["Runtime"] != "provided.al2023" {
		t.Errorf("function: Architectures %v Runtime %v; want [arm64] provided.al2023", fn["Architectures"], fn["Runtime"])
	}
}

func TestTemplatesPassCfnLint(t *testing.T) {
	t.Parallel()
	lint, err := exec.LookPath("cfn-lint")
	if err != nil {
		if os.Getenv(cfnLintRequireEnv) == "1" {
			t.Fatalf("cfn-lint is required (%s=1) but not on PATH: %v", cfnLintRequireEnv, err)
		}
		t.Skipf("cfn-lint not on PATH (set %s=1 to make this a failure)", cfnLintRequireEnv)
	}
	dir := t.TempDir()
	args := []string{"--"}
	for _, tt := range templates {
		path := filepath.Join(dir, tt.file)
		if err := os.WriteFile(path, tt.body(), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, path)
	}
	// Informational findings too: the templates are small enough to keep free of them.
	out, err := exec.Command(lint, append([]string{"--include-checks", "I"}, args...)...).CombinedOutput()
	if err != nil {
		t.Errorf("cfn-lint: %v\n%s", err, out)
	}
}
