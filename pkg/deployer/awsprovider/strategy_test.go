package awsprovider

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/odin-deploy/odin/pkg/release"
	"github.com/odin-deploy/odin/schema"
)

// Each rollout strategy's steps, from the first capacity to the whole.
func TestStrategySteps(t *testing.T) {
	for _, tc := range []struct {
		strategy string
		target   int
		want     []int
	}{
		{"AllAtOnce", 7, []int{7}},
		{"OneThenAllWithCanary", 7, []int{1, 7}},
		{"OneThenAllWithCanary", 1, []int{1}},
		{"25PercentStepRolloutNoCanary", 7, []int{2, 4, 6, 7}},
		{"25PercentStepRolloutNoCanary", 2, []int{1, 2}},
		{"10PercentStepRolloutNoCanary", 12, []int{2, 4, 6, 8, 10, 12}},
		{"10PercentStepRolloutNoCanary", 3, []int{1, 2, 3}},
		{"10AtATimeNoCanary", 25, []int{10, 20, 25}},
		{"20AtATimeNoCanary", 25, []int{20, 25}},
		{"20AtATimeNoCanary", 5, []int{5}},
	} {
		steps := []int{firstStep(tc.strategy, tc.target)}
		for steps[len(steps)-1] < tc.target && len(steps) < 100 {
			steps = append(steps, nextStep(tc.strategy, steps[len(steps)-1], tc.target))
		}
		if !slices.Equal(steps, tc.want) {
			t.Errorf("%s to %d: steps %v, want %v", tc.strategy, tc.target, steps, tc.want)
		}
	}
	// Every strategy the schema accepts is one the provider knows.
	var sch struct {
		Defs struct {
			Autoscaling struct {
				Properties struct {
					Strategy struct {
						Enum []string `json:"enum"`
					} `json:"strategy"`
				} `json:"properties"`
			} `json:"autoscaling"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(schema.JSON(), &sch); err != nil {
		t.Fatal(err)
	}
	enum := sch.Defs.Autoscaling.Properties.Strategy.Enum
	if len(enum) == 0 {
		t.Fatal("no strategy enum in the schema")
	}
	for _, s := range enum {
		if !slices.Contains(Strategies, s) {
			t.Errorf("the schema accepts strategy %s, which the provider does not implement", s)
		}
	}
	if !slices.Equal(enum, Strategies) {
		t.Errorf("schema strategies %v, provider's %v", enum, Strategies)
	}
}

// healthyNeeded follows max(min_size, floor(desired × (1 − spread))).
func TestHealthyNeeded(t *testing.T) {
	for _, tc := range []struct {
		min     int
		spread  float64
		desired int
		want    int
	}{
		{1, 0, 4, 4}, {1, 0.25, 4, 3}, {3, 0.5, 4, 3}, {1, 0.2, 10, 8}, {1, 1, 5, 1}, {5, 0, 3, 3},
	} {
		if got := healthyNeeded(&release.Autoscaling{MinSize: tc.min, Spread: tc.spread}, tc.desired); got != tc.want {
			t.Errorf("min %d spread %v desired %d: %d healthy needed, want %d", tc.min, tc.spread, tc.desired, got, tc.want)
		}
	}
}

// A canary rollout on moto: one instance first, the rest once it is
// healthy; the service is healthy only at its whole capacity, which is the
// serving release's when that has scaled out.
func TestCanaryRollout(t *testing.T) {
	e := newEnv(t)
	v1 := e.deployment("v1", "")
	if err := e.provider.Deploy(e.ctx, v1); err != nil {
		t.Fatal(err)
	}
	e.untilHealthy(v1)
	// The serving release scaled out to 3.
	web1 := GroupName("shop", "prod", "web", v1.ReleaseID)
	if _, err := e.asg.SetDesiredCapacity(e.ctx, setDesired(web1, 3)); err != nil {
		t.Fatal(err)
	}
	v2 := e.deployment("v2", ", strategy: OneThenAllWithCanary")
	if err := e.provider.Deploy(e.ctx, v2); err != nil {
		t.Fatal(err)
	}
	web2 := GroupName("shop", "prod", "web", v2.ReleaseID)
	desired := func() int {
		g, err := describeGroup(e.ctx, e.admin, web2)
		if err != nil || g == nil {
			t.Fatalf("describe %s: %v", web2, err)
		}
		return int(aws.ToInt32(g.DesiredCapacity))
	}
	var seen []int
	for i := 0; i < 10; i++ {
		seen = append(seen, desired())
		hl, err := e.provider.Health(e.ctx, v2)
		if err != nil {
			t.Fatal(err)
		}
		if hl.Healthy {
			if got := hl.Services["web"]; got.Desired != 3 || got.Healthy != 3 {
				t.Errorf("healthy web %+v, want 3 of 3 (the serving release's capacity)", got)
			}
			break
		}
	}
	if want := []int{1, 3}; !slices.Equal(seen, want) {
		t.Errorf("web's desired capacity went %v, want %v", seen, want)
	}
}

func setDesired(group string, n int) *autoscaling.SetDesiredCapacityInput {
	return &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String(group), DesiredCapacity: aws.Int32(int32(n))}
}
