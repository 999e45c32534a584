package watch

import (
	"context"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// pagedHistory serves ids 1..n in pages of size; ignoreToken plays moto,
// which answers every call with the whole history and a token.
type pagedHistory struct {
	n, size     int
	ignoreToken bool
	calls       int
}

func (p *pagedHistory) GetExecutionHistory(_ context.Context, in *sfn.GetExecutionHistoryInput, _ ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error) {
	p.calls++
	start := 0
	if in.NextToken != nil && !p.ignoreToken {
		start, _ = strconv.Atoi(*in.NextToken)
	}
	end := min(start+p.size, p.n)
	if p.ignoreToken {
		start, end = 0, p.n
	}
	out := &sfn.GetExecutionHistoryOutput{}
	for i := start; i < end; i++ {
		id := int64(i + 1)
		if in.ReverseOrder {
			id = int64(p.n - i)
		}
		out.Events = append(out.Events, types.HistoryEvent{Id: id})
	}
	if end < p.n || p.ignoreToken {
		out.NextToken = aws.String(strconv.Itoa(end))
	}
	return out, nil
}

func TestReadHistory(t *testing.T) {
	for _, c := range []struct {
		name    string
		api     *pagedHistory
		reverse bool
		want    []int64
		calls   int
	}{
		{"pages", &pagedHistory{n: 5, size: 2}, false, []int64{1, 2, 3, 4, 5}, 3},
		{"reverse pages", &pagedHistory{n: 5, size: 2}, true, []int64{5, 4, 3, 2, 1}, 3},
		{"a server that ignores the token", &pagedHistory{n: 3, size: 1, ignoreToken: true}, false, []int64{1, 2, 3}, 2},
		{"empty", &pagedHistory{n: 0, size: 2}, false, nil, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []int64
			err := ReadHistory(context.Background(), c.api, "arn", Read{Reverse: c.reverse}, func(evs []types.HistoryEvent, _ bool) bool {
				for _, e := range evs {
					got = append(got, e.Id)
				}
				return true
			})
			if err != nil || len(got) != len(c.want) || c.api.calls != c.calls {
				t.Fatalf("got %v err %v after %d calls, want %v after %d", got, err, c.api.calls, c.want, c.calls)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("got %v, want %v", got, c.want)
				}
			}
		})
	}
}
