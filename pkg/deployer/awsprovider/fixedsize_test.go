package awsprovider

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/odin-deploy/odin/pkg/deployer/awsprovider/awstest"
)

// TestFixedSizeService deploys a service whose min_size equals its max_size
// (a fixed fleet, valid by the schema): every rollout strategy must reach
// exactly that many instances, neither more (max_size) nor stuck below it.
func TestFixedSizeService(t *testing.T) {
	for _, strategy := range []string{"", ", strategy: OneThenAllWithCanary"} {
		name := "default strategy"
		if strategy != "" {
			name = "canary"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			fixed := func(version string) string {
				yaml := strings.Replace(awstest.ShopRelease(e.account, version, ""), "min_size: 2, max_size: 4", "min_size: 3, max_size: 3"+strategy, 1)
				if !strings.Contains(yaml, "min_size: 3, max_size: 3") {
					t.Fatal("the release has no web autoscaling line to fix")
				}
				return yaml
			}
			for _, version := range []string{"v1", "v2"} {
				d := e.deploymentOf(fixed(version))
				if a := d.Release.Services["web"].Autoscaling; a.MinSize != 3 || a.MaxSize != 3 {
					t.Fatalf("web autoscaling %+v", a)
				}
				if err := e.provider.Validate(e.ctx, d); err != nil {
					t.Fatalf("%s: validate: %v", version, err)
				}
				if err := e.provider.Deploy(e.ctx, d); err != nil {
					t.Fatalf("%s: deploy: %v", version, err)
				}
				hl := e.untilHealthy(d)
				if got := hl.Services["web"]; got.Healthy != 3 || got.Desired != 3 {
					t.Errorf("%s: web health %+v, want 3/3 healthy", version, got)
				}
				if err := e.provider.CleanUpSuccess(e.ctx, d); err != nil {
					t.Fatalf("%s: clean up success: %v", version, err)
				}
				for _, g := range e.groups()[d.ReleaseID] {
					if svc, _ := asgTag(g, TagService); svc != "web" {
						continue
					}
					if aws.ToInt32(g.MinSize) != 3 || aws.ToInt32(g.MaxSize) != 3 || aws.ToInt32(g.DesiredCapacity) != 3 || len(g.Instances) != 3 {
						t.Errorf("%s: web group min %d max %d desired %d with %d instances, want 3 of each", version,
							aws.ToInt32(g.MinSize), aws.ToInt32(g.MaxSize), aws.ToInt32(g.DesiredCapacity), len(g.Instances))
					}
				}
			}
		})
	}
}
