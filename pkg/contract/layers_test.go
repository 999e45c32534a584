package contract

import (
	"os/exec"
	"strings"
	"testing"
)

// The contract is the only thing client and deployer share: it imports the
// standard library alone, and no client package (the deploy client, the
// watch, the live view, odin fail's diagnosis, the backend) pulls in the
// deployer or the local engine.
func TestLayers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	const module = "github.com/odin-deploy/odin/"
	deps := func(pkg string) []string {
		t.Helper()
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", module+pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		return strings.Fields(string(out))
	}
	if got := deps("pkg/contract"); len(got) != 1 {
		t.Errorf("pkg/contract imports %v; it must import the standard library only", got[:len(got)-1])
	}
	for _, client := range []string{"pkg/deploy", "pkg/watch", "pkg/progress", "pkg/diagnose", "pkg/ui", "pkg/backend", "pkg/config"} {
		for _, d := range deps(client) {
			if strings.HasPrefix(d, module+"pkg/deployer") || strings.HasPrefix(d, module+"pkg/local/engine") {
				t.Errorf("%s imports %s", client, d)
			}
		}
	}
}
