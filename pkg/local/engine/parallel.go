package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"

	"github.com/odin-deploy/odin/pkg/local/asl"
)

// setPrev moves a thread's prev under the execution's lock.
func (xe *execution) setPrev(th *thread, id int64) {
	xe.mu.Lock()
	th.prev = id
	xe.mu.Unlock()
}

func (xe *execution) prevOf(th *thread) int64 {
	xe.mu.Lock()
	defer xe.mu.Unlock()
	return th.prev
}

// structured runs a Parallel or Map state: run a round (branches or
// iterations) and, on failure, retry with a new *Started event or write
// *Failed and try the catchers. The round returns its result, the id the
// *Succeeded/*Exited events point back to, or the failure (with the thread's
// prev already on the failing event).
func (r *stateRun) structured(ctx context.Context, kind string, round func(startedID int64) (any, int64, *failure), startedDetails func() *Details) (any, string, *failure) {
	counts := make([]int64, len(r.st.Retry))
	for {
		startedID, err := r.xe.emit(r.th, kind+"StateStarted", -1, startedDetails())
		if err != nil {
			return nil, "", haltedFailure()
		}
		result, last, f := round(startedID)
		if f == nil {
			if _, err := r.xe.emit(r.th, kind+"StateSucceeded", last, nil); err != nil {
				return nil, "", haltedFailure()
			}
			// AWS points both Succeeded and Exited at the last branch event.
			r.xe.setPrev(r.th, last)
			out, ff := r.resultOutput(result)
			if ff == nil {
				return r.exit(out, r.next())
			}
			return r.catch(ff)
		}
		if f.halted {
			return nil, "", f
		}
		if d, ok := r.retryDelay(counts, f); ok {
			if err := sleep(ctx, r.xe.e.opts.Clock, d); err != nil {
				return nil, "", haltedFailure()
			}
			r.retryCount++
			continue
		}
		if _, err := r.xe.emit(r.th, kind+"StateFailed", -1, nil); err != nil {
			return nil, "", haltedFailure()
		}
		return r.catch(f)
	}
}

func (r *stateRun) parallel(ctx context.Context) (any, string, *failure) {
	eff, f := r.effectiveInput(r.st.Parameters, "")
	if f != nil {
		return r.catch(f)
	}
	return r.structured(ctx, "Parallel", func(startedID int64) (any, int64, *failure) {
		return r.runBranches(ctx, eff, startedID)
	}, func() *Details { return nil })
}

type branchDone struct {
	i           int
	out         any
	f           *failure
	last        int64
	succeededID int64 // MapIterationSucceeded
}

// runBranches runs every branch concurrently, each on its own thread starting
// at ParallelStateStarted. The first branch to fail stops the others.
func (r *stateRun) runBranches(ctx context.Context, input any, startedID int64) (any, int64, *failure) {
	xe := r.xe
	sc := &scope{parent: r.th.scope}
	bctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	n := len(r.st.Branches)
	ch := make(chan branchDone, n)
	for i, b := range r.st.Branches {
		bt := &thread{prev: startedID, scope: sc, vars: newVariables(r.th.vars)}
		go func() {
			out, f := xe.runMachine(bctx, bt, b, input, nil)
			xe.release(bt.vars)
			ch <- branchDone{i: i, out: out, f: f, last: xe.prevOf(bt)}
		}()
	}
	results := make([]any, n)
	last := startedID
	var fail *branchDone
	for range n {
		d := <-ch
		if d.f != nil {
			if fail == nil || (fail.f.halted && !d.f.halted) {
				dd := d
				fail = &dd
				xe.mu.Lock()
				sc.stopped = true
				xe.mu.Unlock()
				cancel(errIterationCancelled)
			}
			continue
		}
		results[d.i] = d.out
		last = max(last, d.last)
	}
	if fail != nil {
		if fail.f.halted {
			return nil, 0, haltedFailure()
		}
		xe.setPrev(r.th, fail.last)
		return nil, 0, fail.f
	}
	return results, last, nil
}

func (r *stateRun) mapState(ctx context.Context) (any, string, *failure) {
	st := r.st
	eff, f := r.selectPath(st.InputPath, r.raw)
	if f != nil {
		return nil, "", f
	}
	itemsV := eff
	if st.ItemsPath != nil {
		v, err := r.getPath(st.ItemsPath, eff)
		if err != nil {
			return nil, "", r.dataFailure(err)
		}
		itemsV = v
	}
	items, ok := itemsV.([]any)
	if !ok {
		return nil, "", r.runtime(fmt.Sprintf("Map state input must be an array but was: %s", compact(itemsV)))
	}
	maxConc, f := r.count(st.MaxConcurrency, "MaxConcurrency")
	if f != nil {
		return nil, "", f
	}
	tol, f := r.tolerance(len(items))
	if f != nil {
		return nil, "", f
	}
	length := int64(len(items))
	return r.structured(ctx, "Map", func(startedID int64) (any, int64, *failure) {
		return r.runIterations(ctx, eff, items, startedID, int(maxConc), tol, nil)
	}, func() *Details { return &Details{Length: &length} })
}

// count evaluates MaxConcurrency or ToleratedFailureCount (field names which).
// A path that gives no integer fails with AWS's cause (recorded for
// MaxConcurrencyPath); a negative one with LocalStack's wording, since no AWS
// recording of it exists.
func (r *stateRun) count(f asl.IntField, field string) (int64, *failure) {
	if !f.Set {
		return 0, nil
	}
	if f.Path == nil {
		return f.Value, nil
	}
	v, err := r.getPath(f.Path, r.raw)
	if err != nil {
		return 0, r.dataFailure(err)
	}
	if n, ok := nonNegativeInt(v); ok {
		return n, nil
	}
	if s, isString := v.(string); isString {
		// AWS reads a string that holds an integer as that integer
		// (recorded for MaxConcurrencyPath).
		if n, ok := nonNegativeInt(json.Number(s)); ok {
			return n, nil
		}
	}
	b, isNum := bigNumber(v)
	switch {
	case !isNum || !b.IsInt() || b.Sign() >= 0: // a non-negative integer here is too large
		return 0, r.runtime(fmt.Sprintf("The %sPath field refers to value \"%s\" which is not a valid integer: %s", field, plain(v), f.Path.Raw))
	case field == "MaxConcurrency":
		return 0, r.runtime(fmt.Sprintf("Expected non-negative integer for MaxConcurrency, got '%s' instead.", compact(v)))
	default:
		return 0, r.runtime(field + " cannot be negative.")
	}
}

// tolerance is how many failed iterations a Map accepts; -1 means it has no
// tolerance configured, so any failure fails it with the iteration's error.
func (r *stateRun) tolerance(n int) (int, *failure) {
	st := r.st
	if !st.ToleratedFailureCount.Set && !st.ToleratedFailurePercentage.Set {
		return -1, nil
	}
	limit := math.MaxInt32
	if st.ToleratedFailureCount.Set {
		c, f := r.count(st.ToleratedFailureCount, "ToleratedFailureCount")
		if f != nil {
			return 0, f
		}
		limit = int(c)
	}
	if p := st.ToleratedFailurePercentage; p.Set {
		pct := p.Value
		if p.Path != nil {
			v, err := r.getPath(p.Path, r.raw)
			if err != nil {
				return 0, r.dataFailure(err)
			}
			b, ok := bigNumber(v)
			if !ok {
				return 0, r.runtime(fmt.Sprintf("The ToleratedFailurePercentagePath field refers to value \"%s\" which is not a valid float: %s", plain(v), p.Path.Raw))
			}
			pct, _ = b.Float64()
			if pct < 0 || pct > 100 { // LocalStack's wording; AWS's is not recorded
				return 0, r.runtime("ToleratedFailurePercentage must be between 0 and 100.")
			}
		}
		limit = min(limit, int(math.Floor(pct*float64(n)/100)))
	}
	return limit, nil
}

// runIterations runs one Map round. Each iteration is a thread starting at
// its MapIterationStarted event; with MaxConcurrency 1 each Started points at
// the previous iteration's last event, otherwise at MapStateStarted.
// selectItem, when not nil, builds an iteration's input (a JSONata
// ItemSelector) in place of the JSONPath ItemSelector.
func (r *stateRun) runIterations(ctx context.Context, input any, items []any, startedID int64, maxConc int, tol int, selectItem func(i int, item any) (any, *failure)) (any, int64, *failure) {
	xe, st := r.xe, r.st
	n := len(items)
	if maxConc <= 0 || maxConc > n {
		maxConc = max(n, 1)
	}
	sc := &scope{parent: r.th.scope}
	ictx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ch := make(chan branchDone, n)
	running := map[int]*thread{}
	results := make([]any, n)
	last, prevLast := startedID, startedID
	failures := 0

	launch := func(i int) *failure {
		itemInput := items[i]
		if selectItem != nil {
			v, f := selectItem(i, items[i])
			if f != nil {
				return f
			}
			itemInput = v
		} else if st.ItemSelector != nil {
			v, err := st.ItemSelector.Eval(input, r.env(st.ItemSelector, "", map[string]any{"Index": itoa(int64(i)), "Value": items[i]}))
			if err != nil {
				return r.dataFailure(err)
			}
			itemInput = v
		}
		prev := startedID
		if maxConc == 1 {
			prev = prevLast
		}
		it := &thread{scope: sc, vars: newVariables(r.th.vars)}
		idx := int64(i)
		if _, err := xe.emit(it, "MapIterationStarted", prev, &Details{Name: st.Name, Index: &idx}); err != nil {
			return haltedFailure()
		}
		running[i] = it
		go func() {
			out, f := xe.runMachine(ictx, it, st.Processor, itemInput, nil)
			xe.release(it.vars)
			lastID := xe.prevOf(it)
			done := branchDone{i: i, out: out, f: f, last: lastID}
			if f == nil {
				// MapIterationSucceeded points at the iteration's last event;
				// the next iteration (in a sequential Map) points there too,
				// and MapStateSucceeded/Exited point at the last
				// MapIterationSucceeded.
				id, err := xe.emit(it, "MapIterationSucceeded", lastID, &Details{Name: st.Name, Index: &idx})
				if err != nil {
					done.f = haltedFailure()
				}
				done.succeededID = id
			}
			ch <- done
		}()
		return nil
	}
	drain := func() {
		for len(running) > 0 {
			d := <-ch
			delete(running, d.i)
		}
	}

	next := 0
	for next < n || len(running) > 0 {
		for next < n && len(running) < maxConc {
			if f := launch(next); f != nil {
				xe.mu.Lock()
				sc.stopped = true
				xe.mu.Unlock()
				cancel(errIterationCancelled)
				drain()
				return nil, 0, f
			}
			next++
		}
		d := <-ch
		delete(running, d.i)
		if d.f == nil {
			results[d.i] = d.out
			last = max(last, d.succeededID)
			prevLast = d.last
			continue
		}
		if d.f.halted {
			cancel(errHalted)
			drain()
			return nil, 0, haltedFailure()
		}
		idx := int64(d.i)
		failures++
		f := d.f
		if tol >= 0 && failures <= tol {
			// Tolerated: the iteration's output is its error.
			if _, err := xe.emit(&thread{scope: r.th.scope}, "MapIterationFailed", d.last, &Details{Name: st.Name, Index: &idx}); err != nil {
				cancel(errHalted)
				drain()
				return nil, 0, haltedFailure()
			}
			results[d.i] = map[string]any{"Error": f.name, "Cause": f.cause}
			prevLast = d.last
			continue
		}
		if tol >= 0 {
			f = &failure{name: "States.ExceedToleratedFailureThreshold",
				cause: "The specified tolerated failure threshold was exceeded"}
		}
		if err := r.abortIterations(sc, running, d.i, d.last); err != nil {
			cancel(errHalted)
			drain()
			return nil, 0, haltedFailure()
		}
		cancel(errIterationCancelled)
		drain()
		xe.setPrev(r.th, d.last)
		return nil, 0, f
	}
	return results, last, nil
}

// abortIterations writes MapIterationFailed for the failed iteration, then
// <State>StateAborted and MapIterationAborted for each one still running, all
// pointing at the failing event, and stops the rest from writing more.
func (r *stateRun) abortIterations(sc *scope, running map[int]*thread, failed int, failID int64) error {
	xe := r.xe
	xe.mu.Lock()
	defer xe.mu.Unlock()
	sc.stopped = true
	own := &thread{scope: r.th.scope}
	idx := int64(failed)
	if _, err := xe.emitLocked(own, "MapIterationFailed", failID, &Details{Name: r.st.Name, Index: &idx}); err != nil {
		return err
	}
	ids := make([]int, 0, len(running))
	for i := range running {
		ids = append(ids, i)
	}
	sort.Ints(ids)
	for _, i := range ids {
		switch cur := running[i].cur; cur {
		case asl.TypeTask, asl.TypeWait, asl.TypeParallel, asl.TypeMap:
			if _, err := xe.emitLocked(own, cur+"StateAborted", failID, nil); err != nil {
				return err
			}
		}
		j := int64(i)
		if _, err := xe.emitLocked(own, "MapIterationAborted", failID, &Details{Name: r.st.Name, Index: &j}); err != nil {
			return err
		}
	}
	return nil
}
