package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/odin-deploy/odin/pkg/local/asl"
	"github.com/odin-deploy/odin/pkg/local/engine"
)

type printSink struct{ mu sync.Mutex }

func (s *printSink) Append(_ context.Context, _ string, ev engine.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Printf("%d<%d %s\n", ev.ID, ev.PreviousEventID, ev.Type)
	return nil
}

// Example runs a one-Task machine whose Lambda function is a Go function.
func Example() {
	sm, err := asl.Parse([]byte(`{"StartAt":"Greet","States":{"Greet":{"Type":"Task",
		"Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"greet","Payload.$":"$"},
		"OutputPath":"$.Payload","End":true}}}`))
	if err != nil {
		panic(err)
	}
	fns := engine.NewFunctions()
	fns.Register("greet", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		var p struct{ Name string }
		if err := json.Unmarshal(in, &p); err != nil {
			return nil, err
		}
		return json.Marshal("hello " + p.Name)
	})
	done := make(chan engine.Result, 1)
	eng := engine.New(engine.Options{Sink: &printSink{}, Functions: fns,
		OnDone: func(_ string, r engine.Result) { done <- r }})
	defer eng.Close()
	err = eng.Start(context.Background(), engine.Execution{
		Arn:     "arn:aws:states:us-east-1:123456789012:execution:hello:1",
		Name:    "1",
		Machine: sm,
		Input:   json.RawMessage(`{"Name":"odin"}`),
	})
	if err != nil {
		panic(err)
	}
	r := <-done
	fmt.Println(r.Status, string(r.Output))
	// Output:
	// 1<0 ExecutionStarted
	// 2<0 TaskStateEntered
	// 3<2 TaskScheduled
	// 4<3 TaskStarted
	// 5<4 TaskSucceeded
	// 6<5 TaskStateExited
	// 7<6 ExecutionSucceeded
	// SUCCEEDED "hello odin"
}
