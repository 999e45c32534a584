package watch

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// HistoryAPI is the Step Functions call a history read needs.
type HistoryAPI interface {
	GetExecutionHistory(ctx context.Context, in *sfn.GetExecutionHistoryInput, optFns ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error)
}

// HistoryPageSize is the most events GetExecutionHistory returns per call.
const HistoryPageSize = 1000

// Read says how ReadHistory reads.
type Read struct {
	// Newest first when set, else oldest first.
	Reverse bool
	// IncludeData asks for every state's input and output: most of a
	// history's bytes, so only when they are wanted.
	IncludeData bool
}

// ReadHistory reads an execution's history a page at a time and hands each
// page to page, which returns false to stop; more says whether pages follow.
// It is the one place that knows the servers' paging quirks: a server that
// ignores the token (moto) sends the same events again, which are dropped,
// and a token that repeats or an empty page ends the read rather than
// looping forever.
func ReadHistory(ctx context.Context, api HistoryAPI, arn string, r Read, page func(events []types.HistoryEvent, more bool) bool) error {
	in := &sfn.GetExecutionHistoryInput{
		ExecutionArn:         aws.String(arn),
		MaxResults:           HistoryPageSize,
		IncludeExecutionData: aws.Bool(r.IncludeData),
		ReverseOrder:         r.Reverse,
	}
	var edge int64 // the last id handed on, in the read's direction
	for {
		out, err := api.GetExecutionHistory(ctx, in)
		if err != nil {
			return err
		}
		fresh := out.Events[:0:0]
		for _, ev := range out.Events {
			if edge == 0 || (!r.Reverse && ev.Id > edge) || (r.Reverse && ev.Id < edge) {
				fresh = append(fresh, ev)
				edge = ev.Id
			}
		}
		more := out.NextToken != nil && len(out.Events) > 0 && aws.ToString(out.NextToken) != aws.ToString(in.NextToken)
		if (len(fresh) > 0 || !more) && !page(fresh, more) {
			return nil
		}
		if !more || len(fresh) == 0 {
			return nil
		}
		in.NextToken = out.NextToken
	}
}
