package watch_test

import (
	"strings"
	"testing"

	"github.com/odin-deploy/odin/pkg/watch"
)

func TestStepOrder(t *testing.T) {
	tests := []struct {
		name string
		def  string
		want string
	}{
		{"deployer", string(deployerDefinition(t)), "Validate Lock ValidateResources Deploy WaitForDeploy WaitForHealthy CheckHealthy Healthy? " +
			"CleanUpSuccess ReleaseLock Success HealthUnknown CleanUpFailure ReleaseLockFailure FailureClean ReleaseLockDirty FailureDirty"},
		{"retry", retryMachine, "Prepare Check Pause Both Finish Failed"},
		{"loop", loopMachine, "Count More? Done"},
		{"unreachable and no succeed", `{"StartAt":"A","States":{"Z":{"Type":"Pass","End":true},"A":{"Type":"Pass","Next":"B"},"B":{"Type":"Fail"}}}`, "A B Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := watch.ParseDefinition([]byte(tt.def))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range g.Steps {
				names = append(names, s.Name)
			}
			if got := strings.Join(names, " "); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	g, _ := watch.ParseDefinition([]byte(retryMachine))
	if g.Owner("Left") != "Both" || g.Owner("Both") != "Both" || g.Owner("nope") != "" {
		t.Fatal("owners")
	}
}
