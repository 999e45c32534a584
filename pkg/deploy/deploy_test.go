package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/odin-deploy/odin/pkg/local/server"
	"github.com/odin-deploy/odin/pkg/release"
)

// countingExecutions counts the DescribeExecution calls the probe makes.
type countingExecutions struct {
	*sfn.Client
	describes int
}

func (c *countingExecutions) DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, opts ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	c.describes++
	return c.Client.DescribeExecution(ctx, in, opts...)
}

// TestProbeAttempts starts, on the local backend, executions named as the
// attempts of a release would be, and checks the probe finds the newest
// one and the first free name in a few calls.
func TestProbeAttempts(t *testing.T) {
	ctx := context.Background()
	api := localSFN(t)

	tests := []struct {
		name     string
		exist    []int // attempts that exist
		last     int
		free     int
		maxCalls int
	}{
		{name: "never deployed", free: 1, maxCalls: 1},
		{name: "once", exist: []int{1}, last: 1, free: 2, maxCalls: 2},
		{name: "five times", exist: seq(1, 5), last: 5, free: 6, maxCalls: 6},
		{name: "sixteen times", exist: seq(1, 16), last: 16, free: 17, maxCalls: 10},
		{name: "forty times", exist: seq(1, 40), last: 40, free: 41, maxCalls: 12},
		// Step Functions forgot attempts 1 and 2 (90 days): name 1 is free.
		{name: "oldest forgotten", exist: seq(3, 6), free: 1, maxCalls: 1},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sm := createMachine(t, api, fmt.Sprintf("probe-%d", i), `{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`)
			id := release.ReleaseID("0123456789abcdef0123456789abcdef")
			for _, n := range tt.exist {
				if _, err := api.StartExecution(ctx, &sfn.StartExecutionInput{
					StateMachineArn: aws.String(sm),
					Name:            aws.String(release.ExecutionName("probe", "dev", id, n)),
				}); err != nil {
					t.Fatal(err)
				}
			}
			counter := &countingExecutions{Client: api}
			c := &Client{Executions: counter, StateMachineArn: sm}
			got, err := c.probeAttempts(ctx, "probe", "dev", id)
			if err != nil {
				t.Fatal(err)
			}
			if got.last != tt.last || got.free != tt.free {
				t.Errorf("probe: last %d, free %d; want last %d, free %d", got.last, got.free, tt.last, tt.free)
			}
			if tt.last > 0 && got.lastStatus == "" {
				t.Errorf("probe did not record the last attempt's status")
			}
			if counter.describes > tt.maxCalls {
				t.Errorf("probe made %d DescribeExecution calls, want at most %d", counter.describes, tt.maxCalls)
			}
		})
	}

}

func seq(from, to int) []int {
	var s []int
	for n := from; n <= to; n++ {
		s = append(s, n)
	}
	return s
}

// TestScopeAccounts: one deployer deploys web/production to two accounts.
// A scope with an account sees only that account's deploys; without one,
// both.
func TestScopeAccounts(t *testing.T) {
	ctx := context.Background()
	api := localSFN(t)
	sm := createMachine(t, api, "scopes", `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":600,"End":true}}}`)
	start := func(account, id string) string {
		in, _ := json.Marshal(Input{ReleaseID: id, ProjectName: "web", ConfigName: "production", AWSAccountID: account})
		out, err := api.StartExecution(ctx, &sfn.StartExecutionInput{
			StateMachineArn: aws.String(sm),
			Name:            aws.String(release.ExecutionName("web", "production", id, 1)),
			Input:           aws.String(string(in)),
		})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.ExecutionArn)
	}
	inA := start("111111111111", "r-aaaaaaaaaaaaaaaa")
	inB := start("222222222222", "r-bbbbbbbbbbbbbbbb")
	c := &Client{Executions: api, StateMachineArn: sm}

	for _, tt := range []struct {
		account string
		want    []string
	}{
		{"111111111111", []string{inA}},
		{"222222222222", []string{inB}},
		{"333333333333", nil},
	} {
		s := Scope{Account: tt.account, Project: "web", Config: "production"}
		running, err := c.Running(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range running {
			got = append(got, aws.ToString(e.ExecutionArn))
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("Running(%s) = %v, want %v", s, got, tt.want)
		}
		cur, ok, err := c.Current(ctx, s)
		if err != nil || ok != (len(tt.want) > 0) || ok && aws.ToString(cur.ExecutionArn) != tt.want[0] {
			t.Errorf("Current(%s) = %s, %v, %v; want %v", s, aws.ToString(cur.ExecutionArn), ok, err, tt.want)
		}
	}

	// Without an account both match, and which one is meant is unclear.
	all := Scope{Project: "web", Config: "production"}
	var ambiguous *AccountsError
	if _, err := c.Running(ctx, all); !errors.As(err, &ambiguous) || fmt.Sprint(ambiguous.Accounts) != "[111111111111 222222222222]" {
		t.Errorf("Running(%s): %v, want an AccountsError naming both accounts", all, err)
	}
	if _, _, err := c.Current(ctx, all); !errors.As(err, &ambiguous) {
		t.Errorf("Current(%s): %v, want an AccountsError", all, err)
	}
}

// localSFN is a Step Functions client of a local server of the test's own.
func localSFN(t *testing.T) *sfn.Client {
	t.Helper()
	srv, err := server.New(context.Background(), server.Options{DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv.Endpoint().SFNClient()
}

// createMachine creates a state machine and returns its ARN.
func createMachine(t *testing.T, api *sfn.Client, name, definition string) string {
	t.Helper()
	sm, err := api.CreateStateMachine(context.Background(), &sfn.CreateStateMachineInput{
		Name:       aws.String(name),
		Definition: aws.String(definition),
		RoleArn:    aws.String("arn:aws:iam::000000000000:role/odin"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(sm.StateMachineArn)
}
