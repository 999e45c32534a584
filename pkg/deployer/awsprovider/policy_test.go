package awsprovider

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

var update = flag.Bool("update", false, "rewrite golden files")

// The policy is kept as a golden file: the install's templates embed it, and
// a change to it is a change to every target account's permissions.
func TestTargetPolicyGolden(t *testing.T) {
	got := TargetPolicy("aws").JSON()
	path := filepath.Join("testdata", "target-policy.json")
	if *update {
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if strings.TrimSpace(string(want)) != strings.TrimSpace(string(got)) {
		t.Errorf("target policy changed; run go test ./pkg/deployer/awsprovider -run TestTargetPolicyGolden -update and review:\n%s", got)
	}
	var p map[string]any
	if err := json.Unmarshal(got, &p); err != nil {
		t.Fatal(err)
	}
}

// iamPrefix maps an SDK service id to its IAM action prefix.
var iamPrefix = map[string]string{
	"Auto Scaling": "autoscaling", "EC2": "ec2", "Elastic Load Balancing": "elasticloadbalancing",
	"Elastic Load Balancing v2": "elasticloadbalancing", "IAM": "iam", "SNS": "sns", "STS": "sts",
}

// Every call the provider makes in a deploy, a rollback and a clean-up is
// allowed by the target role's policy (the assume-role call is the
// deployer's own).
func TestTargetPolicyCoversEveryCall(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	called := map[string]bool{}
	e.sessions.Base.APIOptions = append(e.sessions.Base.APIOptions, func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("record", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			mu.Lock()
			called[iamPrefix[awsmiddleware.GetServiceID(ctx)]+":"+awsmiddleware.GetOperationName(ctx)] = true
			mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
	})
	v1, v2 := e.deployment("v1", ""), e.deployment("v2", ", strategy: OneThenAllWithCanary")
	for _, step := range []func() error{
		func() error { return e.provider.Validate(e.ctx, v1) },
		func() error { return e.provider.Deploy(e.ctx, v1) },
		func() error { e.untilHealthy(v1); return nil },
		func() error { return e.provider.Deploy(e.ctx, v2) },
		func() error { e.untilHealthy(v2); return nil },
		func() error { return e.provider.CleanUpSuccess(e.ctx, v2) },
		func() error { return e.provider.Deploy(e.ctx, v1) },
		func() error { return e.provider.CleanUpFailure(e.ctx, v1) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	allowed := map[string]bool{}
	for _, s := range TargetPolicy("aws").Statement {
		for _, a := range s.Action {
			allowed[a] = true
		}
	}
	var calls []string
	for c := range called {
		calls = append(calls, c)
	}
	sort.Strings(calls)
	for _, c := range calls {
		if c == "sts:AssumeRole" {
			continue
		}
		if !allowed[c] {
			t.Errorf("the provider calls %s, which the target policy does not allow", c)
		}
	}
	for _, must := range []string{"autoscaling:CreateAutoScalingGroup", "autoscaling:UpdateAutoScalingGroup", "autoscaling:DeleteAutoScalingGroup",
		"ec2:CreateLaunchTemplate", "ec2:DeleteLaunchTemplate", "elasticloadbalancing:DescribeTargetHealth"} {
		if !slices.Contains(calls, must) {
			t.Errorf("the recorder missed %s: %v", must, calls)
		}
	}
}
