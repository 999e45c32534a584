package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

type discardSink struct{}

func (discardSink) Append(context.Context, string, Event) error { return nil }

// chain builds a machine of n states alternating Pass and Task, with the
// usual path fields, so a transition costs what a real one does.
func chain(n int) string {
	var b strings.Builder
	b.WriteString(`{"StartAt":"S0","States":{`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		next := fmt.Sprintf(`"Next":"S%d"`, i+1)
		if i == n-1 {
			next = `"End":true`
		}
		if i%2 == 0 {
			fmt.Fprintf(&b, `"S%d":{"Type":"Pass","Parameters":{"n.$":"$.n","step":%d},"ResultPath":"$.last",%s}`, i, i, next)
		} else {
			fmt.Fprintf(&b, `"S%d":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:noop","ResultPath":null,%s}`, i, next)
		}
	}
	b.WriteString(`}}`)
	return b.String()
}

// BenchmarkTransitions measures state transitions per second through the
// whole engine (events built and sent to a sink that drops them).
func BenchmarkTransitions(b *testing.B) {
	const states = 100
	sm := mustParse(b, chain(states))
	fns := NewFunctions()
	fns.Register("noop", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) { return in, nil })
	done := make(chan struct{}, 1)
	eng := New(Options{Sink: discardSink{}, Functions: fns, OnDone: func(string, Result) { done <- struct{}{} }})
	defer eng.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		x := newExecution(sm, fmt.Sprintf("x%d", i), `{"n":1,"payload":"some bytes to carry along"}`)
		if err := eng.Start(context.Background(), x); err != nil {
			b.Fatal(err)
		}
		<-done
	}
	b.ReportMetric(float64(b.N*states)/b.Elapsed().Seconds(), "transitions/s")
}
