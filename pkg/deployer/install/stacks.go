package install

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"

	"github.com/odin-deploy/odin/pkg/awserr"
)

// CloudFormation is the part of CloudFormation the installer uses.
type CloudFormation interface {
	DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, opts ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
	CreateChangeSet(ctx context.Context, in *cloudformation.CreateChangeSetInput, opts ...func(*cloudformation.Options)) (*cloudformation.CreateChangeSetOutput, error)
	DescribeChangeSet(ctx context.Context, in *cloudformation.DescribeChangeSetInput, opts ...func(*cloudformation.Options)) (*cloudformation.DescribeChangeSetOutput, error)
	ExecuteChangeSet(ctx context.Context, in *cloudformation.ExecuteChangeSetInput, opts ...func(*cloudformation.Options)) (*cloudformation.ExecuteChangeSetOutput, error)
	DeleteChangeSet(ctx context.Context, in *cloudformation.DeleteChangeSetInput, opts ...func(*cloudformation.Options)) (*cloudformation.DeleteChangeSetOutput, error)
	DescribeStackEvents(ctx context.Context, in *cloudformation.DescribeStackEventsInput, opts ...func(*cloudformation.Options)) (*cloudformation.DescribeStackEventsOutput, error)
	DeleteStack(ctx context.Context, in *cloudformation.DeleteStackInput, opts ...func(*cloudformation.Options)) (*cloudformation.DeleteStackOutput, error)
	DetectStackDrift(ctx context.Context, in *cloudformation.DetectStackDriftInput, opts ...func(*cloudformation.Options)) (*cloudformation.DetectStackDriftOutput, error)
	DescribeStackDriftDetectionStatus(ctx context.Context, in *cloudformation.DescribeStackDriftDetectionStatusInput, opts ...func(*cloudformation.Options)) (*cloudformation.DescribeStackDriftDetectionStatusOutput, error)
}

// Stack is a stack as odin wants it.
type Stack struct {
	Name     string
	Template []byte
	Params   map[string]string
	// Tags go on the stack and every resource that takes tags.
	Tags map[string]string
}

// Change is one line of a change set.
type Change struct {
	Action      string `json:"action"` // Add, Modify, Remove
	LogicalID   string `json:"logical_id"`
	Type        string `json:"type"`
	Replacement string `json:"replacement,omitempty"`
}

// Event is one stack event, as the progress view draws it.
type Event struct {
	Time      time.Time `json:"time"`
	Stack     string    `json:"stack"`
	LogicalID string    `json:"logical_id"`
	Type      string    `json:"type"`
	Status    string    `json:"status"`
	Reason    string    `json:"reason,omitempty"`
}

// Failed says the event is a failure.
func (e Event) Failed() bool { return strings.HasSuffix(e.Status, "_FAILED") }

// Result is what Apply did to a stack.
type Result struct {
	Stack string `json:"stack"`
	// Changed is false when the stack already was as wanted.
	Changed bool     `json:"changed"`
	Changes []Change `json:"changes,omitempty"`
	// Params are the parameters whose values change ("old -> new").
	Params map[string]string `json:"parameters,omitempty"`
	// DryRun says the change set was only shown.
	DryRun  bool              `json:"dry_run,omitempty"`
	Status  string            `json:"status,omitempty"`
	Outputs map[string]string `json:"outputs,omitempty"`
}

// Stacks creates, updates and deletes stacks through change sets, and
// reports their events as they happen.
type Stacks struct {
	CF CloudFormation
	// Poll is the wait between polls; 2 seconds when zero.
	Poll time.Duration
	// Timeout bounds one stack operation; 30 minutes when zero.
	Timeout time.Duration
	Now     func() time.Time
	Sleep   func(ctx context.Context, d time.Duration) error
}

func (s *Stacks) poll() time.Duration {
	if s.Poll > 0 {
		return s.Poll
	}
	return 2 * time.Second
}

// backoff is the wait before poll number n (from 0): short at first, since
// change sets are often ready in a moment, then the poll interval.
func (s *Stacks) backoff(n int) time.Duration {
	return min(s.poll(), 250*time.Millisecond<<min(n, 4))
}

func (s *Stacks) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Stacks) sleep(ctx context.Context, d time.Duration) error {
	if s.Sleep != nil {
		return s.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ErrStackFailed is wrapped by errors of stacks that ended failed or rolled back.
var ErrStackFailed = errors.New("stack operation failed")

// Info is a stack as it is.
type Info struct {
	Name        string            `json:"name"`
	Status      string            `json:"status"`
	Reason      string            `json:"reason,omitempty"`
	Outputs     map[string]string `json:"outputs,omitempty"`
	Params      map[string]string `json:"parameters,omitempty"`
	LastUpdated time.Time         `json:"last_updated"`
}

// Describe returns the stack, or nil when it does not exist.
func (s *Stacks) Describe(ctx context.Context, name string) (*Info, error) {
	out, err := s.CF.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	if err != nil {
		if awserr.Is(err, "ValidationError") && strings.Contains(err.Error(), "does not exist") {
			return nil, nil
		}
		return nil, fmt.Errorf("describe stack %s: %w", name, err)
	}
	for _, st := range out.Stacks {
		if aws.ToString(st.StackName) != name || st.StackStatus == cftypes.StackStatusDeleteComplete {
			continue
		}
		info := &Info{Name: name, Status: string(st.StackStatus), Reason: aws.ToString(st.StackStatusReason),
			Outputs: map[string]string{}, Params: map[string]string{}}
		for _, o := range st.Outputs {
			info.Outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
		}
		for _, p := range st.Parameters {
			info.Params[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
		}
		info.LastUpdated = aws.ToTime(st.LastUpdatedTime)
		if info.LastUpdated.IsZero() {
			info.LastUpdated = aws.ToTime(st.CreationTime)
		}
		return info, nil
	}
	return nil, nil
}

// Apply creates or updates the stack through a change set. With dryRun it
// only shows the change set, and deletes it. A stack already as wanted is
// left alone (Changed false).
func (s *Stacks) Apply(ctx context.Context, st Stack, dryRun bool, onEvent func(Event)) (*Result, error) {
	cur, err := s.Describe(ctx, st.Name)
	if err != nil {
		return nil, err
	}
	kind := cftypes.ChangeSetTypeCreate
	if cur != nil {
		switch {
		case cur.Status == string(cftypes.StackStatusRollbackComplete):
			return nil, fmt.Errorf("stack %s failed its creation and was rolled back (%s): delete it (odin deployer uninstall) and install again: %w", st.Name, cur.Reason, ErrStackFailed)
		case strings.HasSuffix(cur.Status, "_IN_PROGRESS") && cur.Status != string(cftypes.StackStatusReviewInProgress):
			return nil, fmt.Errorf("stack %s is busy (%s): wait for it to finish, then run the install again", st.Name, cur.Status)
		case cur.Status != string(cftypes.StackStatusReviewInProgress):
			kind = cftypes.ChangeSetTypeUpdate
		}
	}
	csName := fmt.Sprintf("odin-%d", s.now().UnixNano())
	in := &cloudformation.CreateChangeSetInput{
		StackName:     aws.String(st.Name),
		ChangeSetName: aws.String(csName),
		ChangeSetType: kind,
		TemplateBody:  aws.String(string(st.Template)),
		Capabilities:  []cftypes.Capability{cftypes.CapabilityCapabilityNamedIam},
		Description:   aws.String("odin deployer install"),
	}
	keys := slices.Sorted(maps.Keys(st.Params))
	for _, k := range keys {
		in.Parameters = append(in.Parameters, cftypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(st.Params[k])})
	}
	for _, k := range slices.Sorted(maps.Keys(st.Tags)) {
		in.Tags = append(in.Tags, cftypes.Tag{Key: aws.String(k), Value: aws.String(st.Tags[k])})
	}
	res := &Result{Stack: st.Name, DryRun: dryRun}
	if _, err := s.CF.CreateChangeSet(ctx, in); err != nil {
		// AWS answers an update with nothing to do by a failed change set,
		// some implementations (moto) by this error.
		if cur != nil && awserr.Is(err, "ValidationError") && noChanges(err.Error()) {
			res.Status, res.Outputs = cur.Status, cur.Outputs
			return res, nil
		}
		return nil, fmt.Errorf("create change set for stack %s: %w", st.Name, err)
	}
	cs, err := s.waitChangeSet(ctx, st.Name, csName)
	if err != nil {
		return nil, err
	}
	if cs.Status == cftypes.ChangeSetStatusFailed {
		s.dropChangeSet(ctx, st.Name, csName, kind)
		reason := aws.ToString(cs.StatusReason)
		if noChanges(reason) {
			res.Status = cur.Status
			res.Outputs = cur.Outputs
			return res, nil
		}
		return nil, fmt.Errorf("change set for stack %s failed: %s: %w", st.Name, reason, ErrStackFailed)
	}
	for _, c := range cs.Changes {
		rc := c.ResourceChange
		if rc == nil {
			continue
		}
		res.Changes = append(res.Changes, Change{Action: string(rc.Action), LogicalID: aws.ToString(rc.LogicalResourceId),
			Type: aws.ToString(rc.ResourceType), Replacement: string(rc.Replacement)})
	}
	res.Changed = true
	if cur != nil {
		for _, k := range keys {
			if old, ok := cur.Params[k]; ok && old != st.Params[k] {
				if res.Params == nil {
					res.Params = map[string]string{}
				}
				res.Params[k] = old + " -> " + st.Params[k]
			}
		}
	}
	if dryRun {
		s.dropChangeSet(ctx, st.Name, csName, kind)
		if cur != nil {
			res.Status = cur.Status
		}
		return res, nil
	}
	started := s.now()
	if _, err := s.CF.ExecuteChangeSet(ctx, &cloudformation.ExecuteChangeSetInput{StackName: aws.String(st.Name), ChangeSetName: aws.String(csName)}); err != nil {
		return nil, fmt.Errorf("execute change set for stack %s: %w", st.Name, err)
	}
	info, err := s.waitStack(ctx, st.Name, started, onEvent)
	if err != nil {
		return nil, err
	}
	res.Status, res.Outputs = info.Status, info.Outputs
	return res, nil
}

func noChanges(reason string) bool {
	return strings.Contains(reason, "didn't contain changes") || strings.Contains(reason, "No updates are to be performed")
}

// dropChangeSet deletes a change set that will not run; a stack that only
// existed for it (REVIEW_IN_PROGRESS) goes too.
func (s *Stacks) dropChangeSet(ctx context.Context, stack, cs string, kind cftypes.ChangeSetType) {
	_, _ = s.CF.DeleteChangeSet(ctx, &cloudformation.DeleteChangeSetInput{StackName: aws.String(stack), ChangeSetName: aws.String(cs)})
	if kind == cftypes.ChangeSetTypeCreate {
		if cur, err := s.Describe(ctx, stack); err == nil && cur != nil && cur.Status == string(cftypes.StackStatusReviewInProgress) {
			_, _ = s.CF.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String(stack)})
		}
	}
}

func (s *Stacks) waitChangeSet(ctx context.Context, stack, cs string) (*cloudformation.DescribeChangeSetOutput, error) {
	deadline := s.now().Add(s.timeout())
	for n := 0; ; n++ {
		out, err := s.CF.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{StackName: aws.String(stack), ChangeSetName: aws.String(cs)})
		if err != nil {
			return nil, fmt.Errorf("describe change set %s of stack %s: %w", cs, stack, err)
		}
		switch out.Status {
		case cftypes.ChangeSetStatusCreateComplete, cftypes.ChangeSetStatusFailed:
			// Changes come in pages.
			next := out.NextToken
			for next != nil {
				page, err := s.CF.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{StackName: aws.String(stack), ChangeSetName: aws.String(cs), NextToken: next})
				if err != nil {
					return nil, fmt.Errorf("describe change set %s of stack %s: %w", cs, stack, err)
				}
				out.Changes = append(out.Changes, page.Changes...)
				next = page.NextToken
			}
			return out, nil
		}
		if !s.now().Before(deadline) {
			return nil, fmt.Errorf("change set %s of stack %s is still %s after %s", cs, stack, out.Status, s.timeout())
		}
		if err := s.sleep(ctx, s.backoff(n)); err != nil {
			return nil, err
		}
	}
}

func (s *Stacks) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return 30 * time.Minute
}

// waitStack follows the stack's events from since until it settles, and
// fails when it ended failed or rolled back, naming what failed and why.
func (s *Stacks) waitStack(ctx context.Context, name string, since time.Time, onEvent func(Event)) (*Info, error) {
	seen := map[string]bool{}
	var failures []Event
	deadline := s.now().Add(s.timeout())
	for n := 0; ; n++ {
		events, err := s.newEvents(ctx, name, since, seen)
		if err != nil {
			return nil, err
		}
		for _, e := range events {
			if e.Failed() && e.Reason != "" && !strings.Contains(e.Reason, "Resource creation cancelled") {
				failures = append(failures, e)
			}
			if onEvent != nil {
				onEvent(e)
			}
		}
		info, err := s.Describe(ctx, name)
		if err != nil {
			return nil, err
		}
		status := "DELETE_COMPLETE"
		if info != nil {
			status = info.Status
		}
		if !strings.HasSuffix(status, "_IN_PROGRESS") {
			if strings.Contains(status, "ROLLBACK") || strings.HasSuffix(status, "_FAILED") {
				var why []string
				for _, f := range failures {
					why = append(why, fmt.Sprintf("%s (%s): %s", f.LogicalID, f.Type, f.Reason))
				}
				if len(why) == 0 && info != nil && info.Reason != "" {
					why = append(why, info.Reason)
				}
				return info, fmt.Errorf("stack %s ended %s: %s: %w", name, status, strings.Join(why, "; "), ErrStackFailed)
			}
			if info == nil {
				info = &Info{Name: name, Status: status}
			}
			return info, nil
		}
		if !s.now().Before(deadline) {
			return info, fmt.Errorf("stack %s is still %s after %s", name, status, s.timeout())
		}
		if err := s.sleep(ctx, s.backoff(n)); err != nil {
			return nil, err
		}
	}
}

// newEvents are the stack's events since since that were not seen yet,
// oldest first. CloudFormation lists events newest first; paging stops at
// the first one older than since.
func (s *Stacks) newEvents(ctx context.Context, name string, since time.Time, seen map[string]bool) ([]Event, error) {
	var out []Event
	in := &cloudformation.DescribeStackEventsInput{StackName: aws.String(name)}
	for page := 0; page < 20; page++ {
		resp, err := s.CF.DescribeStackEvents(ctx, in)
		if err != nil {
			if awserr.Is(err, "ValidationError") && strings.Contains(err.Error(), "does not exist") {
				break
			}
			return nil, fmt.Errorf("describe events of stack %s: %w", name, err)
		}
		older := false
		for _, e := range resp.StackEvents {
			t := aws.ToTime(e.Timestamp)
			if t.Before(since.Add(-time.Second)) {
				older = true
				break
			}
			id := aws.ToString(e.EventId)
			if seen[id] {
				continue
			}
			seen[id] = true
			out = append(out, Event{Time: t, Stack: name, LogicalID: aws.ToString(e.LogicalResourceId), Type: aws.ToString(e.ResourceType),
				Status: string(e.ResourceStatus), Reason: aws.ToString(e.ResourceStatusReason)})
		}
		if older || resp.NextToken == nil {
			break
		}
		in.NextToken = resp.NextToken
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

// Delete deletes the stack and follows it until it is gone. A stack that
// does not exist is deleted already.
func (s *Stacks) Delete(ctx context.Context, name string, onEvent func(Event)) (bool, error) {
	cur, err := s.Describe(ctx, name)
	if err != nil || cur == nil {
		return false, err
	}
	started := s.now()
	if _, err := s.CF.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String(name)}); err != nil {
		return false, fmt.Errorf("delete stack %s: %w", name, err)
	}
	if _, err := s.waitStack(ctx, name, started, onEvent); err != nil {
		return false, err
	}
	return true, nil
}

// Drift asks CloudFormation whether the stack's resources still match it:
// "IN_SYNC", "DRIFTED", or why it cannot tell.
func (s *Stacks) Drift(ctx context.Context, name string) string {
	out, err := s.CF.DetectStackDrift(ctx, &cloudformation.DetectStackDriftInput{StackName: aws.String(name)})
	if err != nil {
		return "not available (" + shortErr(err) + ")"
	}
	deadline := s.now().Add(2 * time.Minute)
	for {
		st, err := s.CF.DescribeStackDriftDetectionStatus(ctx, &cloudformation.DescribeStackDriftDetectionStatusInput{StackDriftDetectionId: out.StackDriftDetectionId})
		if err != nil {
			return "not available (" + shortErr(err) + ")"
		}
		switch st.DetectionStatus {
		case cftypes.StackDriftDetectionStatusDetectionComplete:
			return string(st.StackDriftStatus)
		case cftypes.StackDriftDetectionStatusDetectionFailed:
			return "not available (" + aws.ToString(st.DetectionStatusReason) + ")"
		}
		if !s.now().Before(deadline) {
			return "not available (detection still running)"
		}
		if err := s.sleep(ctx, s.poll()); err != nil {
			return "not available (" + err.Error() + ")"
		}
	}
}

// shortErr is an error in one short line, for a status column.
func shortErr(err error) string {
	msg := err.Error()
	var ae smithy.APIError
	if errors.As(err, &ae) {
		msg = ae.ErrorCode() + ": " + ae.ErrorMessage()
	}
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	if len(msg) > 100 {
		msg = msg[:97] + "..."
	}
	return msg
}
