package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/odin-deploy/odin/pkg/release"
)

// Record is one deploy in the audit trail.
type Record struct {
	Execution    string    `json:"execution"`
	ExecutionArn string    `json:"execution_arn"`
	Project      string    `json:"project"`
	Config       string    `json:"config"`
	ReleaseID    string    `json:"release_id"`
	Account      string    `json:"account"`
	Region       string    `json:"region"`
	DeployedBy   string    `json:"deployed_by"`
	Status       string    `json:"status"`
	Error        string    `json:"error,omitempty"`
	Started      time.Time `json:"started"`
	Stopped      time.Time `json:"stopped,omitzero"`
	Duration     string    `json:"duration"`
}

// HistoryQuery filters the trail.
type HistoryQuery struct {
	Project, Config string // empty: every project (and config)
	Account         string // empty: every account
	Status          string // RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED; empty: all
	Since           time.Time
	Limit           int
}

// History lists deploys newest first. The deployer's executions are the one
// audit trail of every account it deploys to: each input names its account.
func (c *Client) History(ctx context.Context, q HistoryQuery) ([]Record, error) {
	if q.Limit <= 0 {
		q.Limit = 20
	}
	prefix := "deploy-"
	if q.Project != "" {
		prefix = release.ExecutionPrefix(q.Project, q.Config)
	}
	in := &sfn.ListExecutionsInput{StateMachineArn: aws.String(c.StateMachineArn), MaxResults: 100}
	if q.Status != "" {
		in.StatusFilter = sfntypes.ExecutionStatus(q.Status)
	}
	var out []Record
	for len(out) < q.Limit {
		page, err := c.Executions.ListExecutions(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list executions: %w", err)
		}
		for _, e := range page.Executions {
			start := aws.ToTime(e.StartDate)
			if !q.Since.IsZero() && start.Before(q.Since) {
				// Newest first: everything after this is older.
				return out, nil
			}
			if !strings.HasPrefix(aws.ToString(e.Name), prefix) {
				continue
			}
			rec, err := c.record(ctx, e)
			if err != nil {
				return nil, err
			}
			if q.Project != "" && rec.Project != q.Project || q.Config != "" && rec.Config != q.Config || q.Account != "" && rec.Account != q.Account {
				continue
			}
			out = append(out, rec)
			if len(out) == q.Limit {
				return out, nil
			}
		}
		if page.NextToken == nil {
			break
		}
		in.NextToken = page.NextToken
	}
	return out, nil
}

func (c *Client) record(ctx context.Context, e sfntypes.ExecutionListItem) (Record, error) {
	r := Record{
		Execution:    aws.ToString(e.Name),
		ExecutionArn: aws.ToString(e.ExecutionArn),
		Status:       string(e.Status),
		Started:      aws.ToTime(e.StartDate),
		Stopped:      aws.ToTime(e.StopDate),
	}
	d, err := c.Executions.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: e.ExecutionArn})
	if err != nil {
		return r, fmt.Errorf("describe execution %s: %w", r.Execution, err)
	}
	var in Input
	if json.Unmarshal([]byte(aws.ToString(d.Input)), &in) == nil {
		r.Project, r.Config, r.ReleaseID = in.ProjectName, in.ConfigName, in.ReleaseID
		r.Account, r.Region, r.DeployedBy = in.AWSAccountID, in.AWSRegion, in.DeployedBy
	}
	r.Error = aws.ToString(d.Error)
	end := r.Stopped
	if end.IsZero() {
		end = c.now()
	}
	r.Duration = end.Sub(r.Started).Round(time.Second).String()
	return r, nil
}

// Current finds the execution a user means by a scope: the running one,
// else the most recent. ok is false when there is none.
func (c *Client) Current(ctx context.Context, s Scope) (item sfntypes.ExecutionListItem, ok bool, err error) {
	running, err := c.Running(ctx, s)
	if err != nil {
		return item, false, err
	}
	if len(running) > 0 {
		return running[0], true, nil
	}
	recs, err := c.latest(ctx, s, "")
	if err != nil || len(recs) == 0 {
		return item, false, err
	}
	return recs[0], true, nil
}

// LatestFailed finds the newest execution of a scope that did not succeed
// (failed, timed out or aborted).
func (c *Client) LatestFailed(ctx context.Context, s Scope) (item sfntypes.ExecutionListItem, ok bool, err error) {
	recs, err := c.latest(ctx, s, "failed")
	if err != nil || len(recs) == 0 {
		return item, false, err
	}
	return recs[0], true, nil
}

// latest lists, newest first, up to one matching execution; filter "failed"
// keeps FAILED, TIMED_OUT and ABORTED.
func (c *Client) latest(ctx context.Context, s Scope, filter string) ([]sfntypes.ExecutionListItem, error) {
	prefix := "deploy-"
	if s.Project != "" {
		prefix = release.ExecutionPrefix(s.Project, s.Config)
	}
	// A prefix too long for the name budget is cut and shared by others.
	exact := prefix == "deploy-"+s.Project+"_"+s.Config+"_"
	in := &sfn.ListExecutionsInput{StateMachineArn: aws.String(c.StateMachineArn), MaxResults: 100}
	for {
		page, err := c.Executions.ListExecutions(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list executions: %w", err)
		}
		for _, e := range page.Executions {
			if !strings.HasPrefix(aws.ToString(e.Name), prefix) {
				continue
			}
			if filter == "failed" && (e.Status == sfntypes.ExecutionStatusSucceeded || e.Status == sfntypes.ExecutionStatusRunning) {
				continue
			}
			if s.Project != "" && (s.Account != "" || !exact) {
				// The name can't tell accounts (or cut prefixes) apart.
				_, same, err := c.isFor(ctx, e, s)
				if err != nil {
					return nil, err
				}
				if !same {
					continue
				}
			}
			return []sfntypes.ExecutionListItem{e}, nil
		}
		if page.NextToken == nil {
			return nil, nil
		}
		in.NextToken = page.NextToken
	}
}
