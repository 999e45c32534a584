package install

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"

	"github.com/odin-deploy/odin/pkg/testpeer/moto"
)

// A stack whose resource cannot be created fails the install with the
// resource and CloudFormation's reason; the next install says the stack must
// go first; a stack that does not exist is deleted already.
func TestStacksFailureOnMoto(t *testing.T) {
	t.Parallel()
	s := moto.StartPlain(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cf := cloudformation.NewFromConfig(s.Config(), func(o *cloudformation.Options) { o.BaseEndpoint = aws.String(s.URL) })
	st := &Stacks{CF: cf, Poll: 50 * time.Millisecond}
	var events []Event
	// The code's bucket does not exist: the function cannot be created.
	_, err := st.Apply(ctx, Stack{Name: DeployerStack, Template: DeployerTemplate(), Params: map[string]string{
		"BucketName": "no-such-bucket-odin", "CodeKey": "missing.zip", "Version": "v1.0.0",
	}}, false, func(e Event) { events = append(events, e) })
	t.Logf("apply: %v", err)
	for _, e := range events {
		t.Logf("event %s %s %s %s", e.LogicalID, e.Type, e.Status, e.Reason)
	}
	if err == nil {
		t.Fatal("a function whose code's bucket does not exist was installed")
	}
	if !strings.Contains(err.Error(), "stack "+DeployerStack) {
		t.Errorf("error %v does not name the stack", err)
	}
	info, derr := st.Describe(ctx, DeployerStack)
	t.Logf("after the failure: %+v %v", info, derr)
	_, err = st.Apply(ctx, Stack{Name: DeployerStack, Template: DeployerTemplate(), Params: map[string]string{
		"BucketName": "no-such-bucket-odin", "CodeKey": "missing.zip", "Version": "v1.0.0",
	}}, false, nil)
	t.Logf("again: %v", err)
	if err == nil {
		t.Error("a second install over the failed stack succeeded")
	}
	// Deleting what is not there is done already.
	deleted, err := st.Delete(ctx, "odin-never-created", nil)
	if err != nil || deleted {
		t.Errorf("delete of a missing stack: %v, %v", deleted, err)
	}
}

// A dry run of a first install leaves no stack behind, and shows what it
// would add.
func TestDryRunLeavesNothingOnMoto(t *testing.T) {
	t.Parallel()
	s := moto.StartPlain(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cf := cloudformation.NewFromConfig(s.Config(), func(o *cloudformation.Options) { o.BaseEndpoint = aws.String(s.URL) })
	st := &Stacks{CF: cf, Poll: 50 * time.Millisecond}
	res, err := st.Apply(ctx, Stack{Name: BucketStack, Template: BucketTemplate()}, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || !res.DryRun || len(res.Changes) == 0 || res.Changes[0].Action != "Add" {
		t.Errorf("dry run result %+v, want the bucket's Add", res)
	}
	info, err := st.Describe(ctx, BucketStack)
	if err != nil || info != nil {
		t.Errorf("after a dry run the stack is %+v (%v), want none", info, err)
	}
}
