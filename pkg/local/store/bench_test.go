package store

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkAppend appends events from 8 goroutines (8 executions at once,
// as a busy engine does); each event is one write(2) to the journal.
func BenchmarkAppend(b *testing.B) {
	s := openStore(b, b.TempDir())
	arns := seed(b, s, 8)
	ids := make([]atomic.Int64, len(arns))
	var next atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := range arns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				id := ids[w].Add(1)
				typ := "PassStateEntered"
				if id == 1 {
					typ = "ExecutionStarted"
				}
				if err := s.Append(context.Background(), arns[w], event(id, typ)); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkOpen replays a journal of 1,000 executions of 25 events.
func BenchmarkOpen(b *testing.B) {
	dir := b.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, arn := range seed(b, s, 1000) {
		typs := make([]string, 25)
		typs[0] = "ExecutionStarted"
		for i := 1; i < 24; i++ {
			typs[i] = runTypes[1+i%2]
		}
		typs[24] = "ExecutionSucceeded"
		appendAll(b, s, arn, typs...)
	}
	s.Close()
	b.ResetTimer()
	for b.Loop() {
		s, err := Open(dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if x, ok := s.Execution("arn:aws:states:us-east-1:123456789012:execution:m:x999"); !ok || x.Events != 25 || x.Status != "SUCCEEDED" {
			b.Fatalf("%+v", x)
		}
		s.Close()
	}
}

// BenchmarkOpenFinished reopens a store holding 1,000, 5,000 and 20,000
// finished executions of 26 events (compacted as they finish): the part of
// a restart that follows the history. MB-heap is the live heap after
// opening.
func BenchmarkOpenFinished(b *testing.B) {
	for _, n := range []int{1000, 5000, 20000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			dir := b.TempDir()
			fillFinished(b, dir, n)
			b.ResetTimer()
			var s *Store
			for b.Loop() {
				var err error
				if s, err = Open(dir, Options{}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				s.Close()
				b.StartTimer()
			}
			b.StopTimer()
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			s, err := Open(dir, Options{})
			if err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MB-heap")
			x, ok := s.Execution(fmt.Sprintf("arn:aws:states:us-east-1:123456789012:execution:m:x%d", n-1))
			if !ok || x.Status != "SUCCEEDED" || x.Events != 26 || x.Input != `{"i":1}` {
				b.Fatalf("%+v", x)
			}
			s.Close()
		})
	}
}

// fillFinished writes n finished executions of 26 events into a store in dir.
func fillFinished(b *testing.B, dir string, n int) {
	s, err := Open(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	typs := make([]string, 26)
	typs[0] = "ExecutionStarted"
	for i := 1; i < 25; i++ {
		typs[i] = runTypes[1+i%2]
	}
	typs[25] = "ExecutionSucceeded"
	for _, arn := range seed(b, s, n) {
		appendAll(b, s, arn, typs...)
	}
}
