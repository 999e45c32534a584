package backend

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/odin-deploy/odin/pkg/config"
	"github.com/odin-deploy/odin/pkg/local/access"
	"github.com/odin-deploy/odin/pkg/local/server"
)

func TestStateMachineArn(t *testing.T) {
	cases := []struct{ name, region, account, want string }{
		{"odin-deployer", "us-east-1", "123456789012", "arn:aws:states:us-east-1:123456789012:stateMachine:odin-deployer"},
		{"", "eu-west-1", "123456789012", "arn:aws:states:eu-west-1:123456789012:stateMachine:odin-deployer"},
		{"d", "cn-north-1", "123456789012", "arn:aws-cn:states:cn-north-1:123456789012:stateMachine:d"},
		{"d", "us-gov-west-1", "123456789012", "arn:aws-us-gov:states:us-gov-west-1:123456789012:stateMachine:d"},
		{"arn:aws:states:us-east-1:111122223333:stateMachine:x", "eu-west-1", "123456789012", "arn:aws:states:us-east-1:111122223333:stateMachine:x"},
	}
	for _, c := range cases {
		if got := StateMachineArn(c.name, c.region, c.account); got != c.want {
			t.Errorf("StateMachineArn(%q) = %q, want %q", c.name, got, c.want)
		}
	}
	sm := "arn:aws:states:us-east-1:123456789012:stateMachine:odin-deployer"
	if got := StateMachineName(sm); got != "odin-deployer" {
		t.Errorf("StateMachineName = %q", got)
	}
}

func TestOpenLocal(t *testing.T) {
	s := &config.Settings{Backend: Local, StateMachine: "odin-deployer"}
	b, err := Open(context.Background(), Options{Settings: s, StartLocal: func(context.Context) (access.Endpoint, error) {
		return access.Endpoint{URL: "http://127.0.0.1:1", AccessKeyID: "AK", SecretAccessKey: "SK", Region: "us-east-1", Account: "000000000000"}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if b.Bucket != LocalBucket || b.Account != "000000000000" || b.Region != "us-east-1" ||
		b.StateMachineArn != "arn:aws:states:us-east-1:000000000000:stateMachine:odin-deployer" ||
		b.CallerArn != "" {
		t.Errorf("local backend resolved to %+v", b)
	}
	if d := b.Describe(); !strings.Contains(d, "backend local http://127.0.0.1:1") || !strings.Contains(d, "state machine odin-deployer") {
		t.Errorf("Describe = %q", d)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(context.Background(), Options{Settings: &config.Settings{Backend: Local}}); err == nil {
		t.Error("local backend without a way to start it: no error")
	}
	if _, err := Open(context.Background(), Options{Settings: &config.Settings{Backend: "gcp"}}); err == nil || !strings.Contains(err.Error(), "unknown backend") {
		t.Errorf("unknown backend: %v", err)
	}
}

// The caller comes from STS GetCallerIdentity on the local backend too, over
// the same signed SDK call as on AWS.
func TestOpenLocalResolvesCaller(t *testing.T) {
	ctx := context.Background()
	srv, err := server.New(ctx, server.Options{DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	s := &config.Settings{Backend: Local, StateMachine: "odin-deployer"}
	b, err := Open(ctx, Options{Settings: s, Identity: true, StartLocal: func(context.Context) (access.Endpoint, error) {
		return srv.Endpoint(), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.CallerArn, "arn:aws:iam::000000000000:user/") || len(b.CallerArn) == len("arn:aws:iam::000000000000:user/") {
		t.Errorf("caller %q", b.CallerArn)
	}
}

func TestSessionName(t *testing.T) {
	tests := map[string]string{
		"arn:aws:iam::123456789012:user/alice":                                        "odin-alice",
		"arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0a1b/bob@ex.com": "odin-bob@ex.com",
		"arn:aws:iam::123456789012:root":                                              "odin-root",
		"arn:aws:iam::123456789012:user/a b/c!d":                                      "odin-cd",
		"arn:aws:iam::123456789012:user/" + strings.Repeat("x", 100):                  "odin-" + strings.Repeat("x", 59),
		"arn:aws:iam::123456789012:user/!!!":                                          "odin",
		"":                                                                            "odin",
	}
	for arn, want := range tests {
		if got := SessionName(arn); got != want {
			t.Errorf("SessionName(%q) = %q, want %q", arn, got, want)
		}
	}
}
