package watch_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/odin-deploy/odin/pkg/watch"
)

// scriptedHistory answers each GetExecutionHistory call with the next page
// of ids (newest first). No real server shows a gap in ids (whether AWS can
// is unconfirmed), so this one is an in-memory fake on purpose.
type scriptedHistory struct {
	pages [][]int64
	calls int
}

func (s *scriptedHistory) GetExecutionHistory(_ context.Context, in *sfn.GetExecutionHistoryInput, _ ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error) {
	page := s.pages[min(s.calls, len(s.pages)-1)]
	s.calls++
	out := &sfn.GetExecutionHistoryOutput{}
	for _, id := range page {
		ev := types.HistoryEvent{Id: id, PreviousEventId: id - 1, Timestamp: aws.Time(t0.Add(time.Duration(id) * time.Second)),
			Type: types.HistoryEventTypePassStateEntered, StateEnteredEventDetails: &types.StateEnteredEventDetails{Name: aws.String("P")}}
		switch id {
		case 1:
			ev.Type, ev.StateEnteredEventDetails = types.HistoryEventTypeExecutionStarted, nil
		case 6:
			ev.Type, ev.StateEnteredEventDetails = types.HistoryEventTypeExecutionSucceeded, nil
		}
		out.Events = append(out.Events, ev)
	}
	return out, nil
}

func (s *scriptedHistory) DescribeExecution(context.Context, *sfn.DescribeExecutionInput, ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	return &sfn.DescribeExecutionOutput{Output: aws.String(`{}`)}, nil
}

func (s *scriptedHistory) DescribeStateMachineForExecution(context.Context, *sfn.DescribeStateMachineForExecutionInput, ...func(*sfn.Options)) (*sfn.DescribeStateMachineForExecutionOutput, error) {
	return &sfn.DescribeStateMachineForExecutionOutput{Definition: aws.String(`{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`)}, nil
}

// A page with a hole: events before it are emitted, the rest waits for a
// read that fills it; nothing is emitted twice. (The second page answers
// the probe for the newest event that follows a first read.)
func TestTailGap(t *testing.T) {
	api := &scriptedHistory{pages: [][]int64{{5, 4, 2, 1}, {5}, {5, 4, 3, 2}, {6, 5}}}
	got, res, _ := tail(t, api, "arn", watch.Options{})
	var ids []int64
	for _, ev := range got {
		ids = append(ids, ev.ID)
	}
	if !slices.Equal(ids, []int64{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("emitted ids %v", ids)
	}
	if res.Status != "SUCCEEDED" || res.Output != "{}" {
		t.Fatalf("result %+v", res)
	}
}

func TestTransientErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"throttled", &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}, true},
		{"no such execution", &types.ExecutionDoesNotExist{Message: aws.String("Execution Does Not Exist")}, false},
		{"access denied", &smithy.GenericAPIError{Code: "AccessDeniedException", Fault: smithy.FaultClient}, false},
		{"server fault", &smithy.GenericAPIError{Code: "InternalFailure", Fault: smithy.FaultServer}, true},
		{"connection refused", &smithyhttp.RequestSendError{Err: errors.New("dial tcp 127.0.0.1:1: connect: connection refused")}, true},
		{"truncated body", &smithy.DeserializationError{Err: io.ErrUnexpectedEOF}, true},
		{"retry quota", &ratelimit.QuotaExceededError{Available: 0, Requested: 5}, true},
		{"no credentials", errors.New("failed to retrieve credentials: no EC2 IMDS role found"), false},
		{"cancelled", context.Canceled, false},
	}
	for _, tt := range tests {
		if got := watch.Transient(tt.err); got != tt.want {
			t.Errorf("%s: transient %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestExpressRefused(t *testing.T) {
	arn := "arn:aws:states:us-east-1:123456789012:express:odin:x:6e8c2b1a"
	_, err := watch.New(&scriptedHistory{}, arn, watch.Options{}).Run(context.Background(), func(watch.Event) {})
	if err == nil || !strings.Contains(err.Error(), "EXPRESS") {
		t.Fatalf("got %v", err)
	}
}
