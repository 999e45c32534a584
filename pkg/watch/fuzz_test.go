package watch_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/odin-deploy/odin/pkg/watch"
)

func FuzzParseDefinition(f *testing.F) {
	f.Add([]byte(retryMachine))
	f.Add([]byte(loopMachine))
	f.Add([]byte(`{"StartAt":"A","States":{"A":{"Type":"Parallel","Branches":[{"StartAt":"A","States":{"A":{"Type":"Pass"}}}],"Next":"A"}}}`))
	f.Add([]byte(`{"States":{}}`))
	f.Fuzz(func(t *testing.T, def []byte) {
		g, err := watch.ParseDefinition(def)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, s := range g.Steps {
			if seen[s.Name] {
				t.Fatalf("step %q listed twice", s.Name)
			}
			seen[s.Name] = true
			if g.Owner(s.Name) != s.Name {
				t.Fatalf("top-level %q owned by %q", s.Name, g.Owner(s.Name))
			}
		}
	})
}

var fuzzTypes = []types.HistoryEventType{
	types.HistoryEventTypeExecutionStarted, types.HistoryEventTypeTaskStateEntered, types.HistoryEventTypeTaskScheduled,
	types.HistoryEventTypeTaskStarted, types.HistoryEventTypeTaskFailed, types.HistoryEventTypeTaskSucceeded,
	types.HistoryEventTypeTaskStateExited, types.HistoryEventTypeParallelStateStarted, types.HistoryEventTypeParallelStateFailed,
	types.HistoryEventTypeExecutionFailed, types.HistoryEventTypeExecutionSucceeded, types.HistoryEventTypeExecutionAborted,
	types.HistoryEventTypeMapIterationStarted, types.HistoryEventTypeLambdaFunctionFailed, types.HistoryEventTypeFailStateEntered,
}

// Any sequence of events, in any order, with any previousEventId: the
// translator never panics and ends the execution at most once per terminal
// event.
func FuzzTranslate(f *testing.F) {
	f.Add([]byte{0, 1, 0, 2, 1, 1, 4, 2, 3, 3, 5, 4, 6, 5, 9, 6})
	f.Fuzz(func(t *testing.T, script []byte) {
		g, _ := watch.ParseDefinition([]byte(retryMachine))
		tr := watch.NewTranslator(g)
		names := []string{"Prepare", "Check", "Both", "Left", "Nope", ""}
		for i := 0; i+1 < len(script); i += 2 {
			typ := fuzzTypes[int(script[i])%len(fuzzTypes)]
			h := types.HistoryEvent{Id: int64(i/2 + 1), PreviousEventId: int64(script[i+1]) % int64(i/2+2),
				Type: typ, Timestamp: aws.Time(time.Unix(int64(i), 0))}
			name := aws.String(names[int(script[i+1])%len(names)])
			switch typ {
			case types.HistoryEventTypeTaskStateEntered, types.HistoryEventTypeFailStateEntered:
				h.StateEnteredEventDetails = &types.StateEnteredEventDetails{Name: name}
			case types.HistoryEventTypeTaskStateExited:
				h.StateExitedEventDetails = &types.StateExitedEventDetails{Name: name}
			case types.HistoryEventTypeTaskFailed:
				h.TaskFailedEventDetails = &types.TaskFailedEventDetails{Error: aws.String("E")}
			case types.HistoryEventTypeMapIterationStarted:
				h.MapIterationStartedEventDetails = &types.MapIterationEventDetails{Name: name}
			}
			ended := 0
			for _, ev := range tr.Translate(h) {
				if ev.Kind == watch.ExecutionEnded {
					ended++
				}
			}
			if ended > 1 {
				t.Fatal("one event ended the execution twice")
			}
		}
	})
}
