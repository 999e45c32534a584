package contract

import "testing"

func TestKeys(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{Root("123456789012", "hello", "prod"), "123456789012/hello/prod"},
		{ReleaseKey("123456789012", "hello", "prod", "r-1"), "123456789012/hello/prod/r-1/release"},
		{LockKey("123456789012", "hello", "prod"), "123456789012/hello/prod/lock"},
		{HaltKey("123456789012", "hello", "prod"), "123456789012/hello/prod/halt"},
		{ExecutionArn("arn:aws:states:us-east-1:123456789012:stateMachine:odin-deployer", "deploy-a_b_r-1"),
			"arn:aws:states:us-east-1:123456789012:execution:odin-deployer:deploy-a_b_r-1"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestHealthSummary(t *testing.T) {
	h := &Health{Services: map[string]*ServiceHealth{
		"web": {Desired: 2, Healthy: 1, Instances: []Instance{
			{ID: "web-1", State: InstanceHealthy},
			{ID: "web-2", State: InstanceExited, Reason: "exit status 1", LogTail: []string{"boom"}},
		}},
		"api": nil,
	}}
	want := "web 1/2 healthy; web-2 exited: exit status 1 (last log lines: boom)"
	if got := h.Summary(); got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
	if got := (*Health)(nil).Summary(); got != "no health report" {
		t.Errorf("nil Summary() = %q", got)
	}
}
