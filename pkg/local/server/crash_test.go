package server

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/odin-deploy/odin/pkg/local/access"
)

// startHelperServer runs this test binary as a detached server process for
// dir (see TestMain) with the given command functions.
func startHelperServer(t *testing.T, dir string, functions map[string][]string) (*os.Process, access.Endpoint) {
	t.Helper()
	spec, _ := json.Marshal(functions)
	t.Setenv("ODIN_TEST_SERVE_DIR", dir)
	t.Setenv("ODIN_TEST_FUNCTIONS", string(spec))
	var proc *os.Process
	ensure := func() (access.Endpoint, error) {
		return Ensure(context.Background(), dir, func(context.Context) error {
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			proc, err = StartDetached(exe, []string{"-test.run=^$"}, filepath.Join(dir, LogFile))
			return err
		})
	}
	ep, err := ensure()
	if err != nil && proc != nil {
		// How the server process ended says who ended it. One killed by a
		// signal this test did not send, before it served, was hit from
		// outside (CI runs other packages' tests beside this one): say so
		// and start it once more.
		state := waitState(proc, 5*time.Second)
		if ws, ok := sysStatus(state); ok && ws.Signaled() {
			t.Logf("the server (pid %d) was killed by %s during start-up, not by this test; starting it again", proc.Pid, ws.Signal())
			proc = nil
			ep, err = ensure()
		} else {
			err = fmt.Errorf("%w (the server process: %v)", err, state)
		}
	}
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, LogFile))
		t.Fatalf("start server: %v\n%s", err, log)
	}
	if proc == nil {
		t.Fatal("a server was already running")
	}
	// Never leave a server behind, whatever the test does with it.
	t.Cleanup(func() { stopHelperServer(t, proc, dir) })
	return proc, ep
}

// stopHelperServer stops a server the test has not stopped as `odin local
// stop` does: SIGTERM, so that it stops its command tasks itself, and SIGKILL
// if it has not ended after a while; then what a killed one left running.
func stopHelperServer(t *testing.T, proc *os.Process, dir string) {
	if err := proc.Signal(syscall.SIGTERM); err != nil {
		return // the test waited for it already
	}
	done := make(chan struct{})
	go func() { proc.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-time.After(30 * time.Second):
	}
	t.Logf("the server (pid %d) did not stop on SIGTERM: killing it", proc.Pid)
	proc.Kill()
	<-done
	StopOrphanTasks(dir, 5*time.Second, nil)
}

// waitState waits up to limit for a child process to end and returns how it
// ended (nil if it still runs).
func waitState(p *os.Process, limit time.Duration) *os.ProcessState {
	done := make(chan *os.ProcessState, 1)
	go func() {
		st, _ := p.Wait()
		done <- st
	}()
	select {
	case st := <-done:
		return st
	case <-time.After(limit):
		return nil
	}
}

func sysStatus(st *os.ProcessState) (syscall.WaitStatus, bool) {
	if st == nil {
		return 0, false
	}
	ws, ok := st.Sys().(syscall.WaitStatus)
	return ws, ok
}

// waitFor polls the execution's history until cond holds, failing after a
// generous limit; it waits for progress, it does not assert speed.
func waitFor(t *testing.T, c *sfn.Client, arn string, what string, cond func([]types.HistoryEvent, *sfn.DescribeExecutionOutput) bool) []types.HistoryEvent {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx := context.Background()
		// Describe first: a final status then means the history read after it is complete.
		desc, err := c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			t.Fatalf("DescribeExecution: %v", err)
		}
		var events []types.HistoryEvent
		p := sfn.NewGetExecutionHistoryPaginator(c, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 1000})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("GetExecutionHistory: %v", err)
			}
			events = append(events, out.Events...)
		}
		if cond(events, desc) {
			return events
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s; status %s, history %s", what, desc.Status, eventTypes(events))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func eventTypes(events []types.HistoryEvent) string {
	var b strings.Builder
	for _, e := range events {
		fmt.Fprintf(&b, "\n  %d<%d %s", e.Id, e.PreviousEventId, e.Type)
	}
	return b.String()
}

func hasEvent(events []types.HistoryEvent, typ types.HistoryEventType) bool {
	for _, e := range events {
		if e.Type == typ {
			return true
		}
	}
	return false
}

// TestCrashResume SIGKILLs a server while an execution waits (and, in the
// second case, while its Task command runs), starts a new server on the same
// data dir, and checks that the execution completes with one contiguous
// history: no event lost, none duplicated. Each case proves its kill landed
// mid-state: the state ends after the restart, and an interrupted task runs
// a second time (it cannot end before the test lets it).
func TestCrashResume(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills server processes")
	}
	cases := []struct {
		name   string
		killAt types.HistoryEventType
		block  bool // the task waits for the test's go-ahead
		signal syscall.Signal
	}{
		{"killed while waiting", types.HistoryEventTypeWaitStateEntered, false, syscall.SIGKILL},
		{"killed while the task runs", types.HistoryEventTypeLambdaFunctionStarted, true, syscall.SIGKILL},
		// A graceful stop must not record the interrupted task as failed.
		{"stopped while the task runs", types.HistoryEventTypeLambdaFunctionStarted, true, syscall.SIGTERM},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			runs, goAhead := filepath.Join(filepath.Dir(dir), "runs"), filepath.Join(filepath.Dir(dir), "go")
			if !tc.block {
				if err := os.WriteFile(goAhead, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			task := fmt.Sprintf(`cat >/dev/null; echo run >>%s; while [ ! -f %s ]; do sleep 0.05; done; printf '{"ran":true}'`, runs, goAhead)
			fns := map[string][]string{"work": {"sh", "-c", task}}
			proc, ep := startHelperServer(t, dir, fns)
			c := sfnClient(ep, ep.SecretAccessKey)
			ctx := context.Background()
			def := fmt.Sprintf(`{"StartAt":"Pause","States":{
				"Pause":{"Type":"Wait","Seconds":5,"Next":"Work"},
				"Work":{"Type":"Task","Resource":"arn:aws:lambda:%s:%s:function:work","End":true}}}`, ep.Region, ep.Account)
			sm, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("crash"), Definition: aws.String(def),
				RoleArn: aws.String("arn:aws:iam::" + ep.Account + ":role/odin-local")})
			if err != nil {
				t.Fatal(err)
			}
			ex, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Name: aws.String("survivor"), Input: aws.String(`{}`)})
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, c, *ex.ExecutionArn, string(tc.killAt), func(ev []types.HistoryEvent, _ *sfn.DescribeExecutionOutput) bool {
				return hasEvent(ev, tc.killAt)
			})
			if tc.block {
				// LambdaFunctionStarted is written as the command starts, before
				// its shell has run a line: wait until the task has really run, so
				// that the kill interrupts a task, not a process being spawned.
				waitForRun(t, runs)
			}
			if err := proc.Signal(tc.signal); err != nil {
				t.Fatal(err)
			}
			proc.Wait()

			restarted := time.Now().Truncate(time.Millisecond)
			_, ep = startHelperServer(t, dir, fns)
			c = sfnClient(ep, ep.SecretAccessKey)
			if tc.block {
				if err := os.WriteFile(goAhead, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			events := waitFor(t, c, *ex.ExecutionArn, "the end of the execution", func(_ []types.HistoryEvent, d *sfn.DescribeExecutionOutput) bool {
				return d.Status != types.ExecutionStatusRunning
			})
			desc, _ := c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: ex.ExecutionArn})
			if desc.Status != types.ExecutionStatusSucceeded || aws.ToString(desc.Output) != `{"ran":true}` {
				t.Fatalf("after the restart: %s %q%s", desc.Status, aws.ToString(desc.Output), eventTypes(events))
			}
			seen := map[int64]bool{}
			counts := map[types.HistoryEventType]int{}
			for i, e := range events {
				if e.Id != int64(i+1) || seen[e.Id] {
					t.Fatalf("event %d has id %d: ids must be contiguous and unique%s", i, e.Id, eventTypes(events))
				}
				seen[e.Id] = true
				counts[e.Type]++
			}
			for _, typ := range []types.HistoryEventType{types.HistoryEventTypeExecutionStarted, types.HistoryEventTypeWaitStateEntered,
				types.HistoryEventTypeWaitStateExited, types.HistoryEventTypeExecutionSucceeded} {
				if counts[typ] != 1 {
					t.Errorf("%d %s events, want 1%s", counts[typ], typ, eventTypes(events))
				}
			}
			if counts[types.HistoryEventTypeLambdaFunctionFailed] != 0 || counts[types.HistoryEventTypeLambdaFunctionSucceeded] != 1 {
				t.Errorf("%d LambdaFunctionSucceeded events, want 1%s", counts[types.HistoryEventTypeLambdaFunctionSucceeded], eventTypes(events))
			}
			// The kill landed mid-state: the state it hit ended after the restart.
			ended := types.HistoryEventTypeWaitStateExited
			if tc.killAt == types.HistoryEventTypeLambdaFunctionStarted {
				ended = types.HistoryEventTypeLambdaFunctionSucceeded
			}
			for _, e := range events {
				if e.Type == ended && e.Timestamp.Before(restarted) {
					t.Errorf("%s at %v, before the restart at %v: the kill did not land mid-state%s", ended, e.Timestamp, restarted, eventTypes(events))
				}
			}
			b, _ := os.ReadFile(runs)
			wantRuns := 1
			if tc.block {
				wantRuns = 2 // interrupted, then run again by the new server
			}
			if n := strings.Count(string(b), "run"); n != wantRuns {
				t.Errorf("the task ran %d times, want %d", n, wantRuns)
			}
			t.Logf("history after the crash:%s", eventTypes(events))
		})
	}
}

// TestCrashLoopIsBroken: an execution in whose state the server dies twice
// in a row (a real server process, SIGKILLed mid-state each time) is failed
// by the next start instead of being resumed a third time; a clean stop in
// between starts the count again, and the server keeps serving.
func TestCrashLoopIsBroken(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills server processes")
	}
	dir := filepath.Join(t.TempDir(), "data")
	pids := filepath.Join(filepath.Dir(dir), "pids")
	fns := map[string][]string{"stuck": {"sh", "-c", `cat >/dev/null; echo $$ >>"$0"; sleep 600`, pids}}
	proc, ep := startHelperServer(t, dir, fns)
	c := sfnClient(ep, ep.SecretAccessKey)
	ctx := context.Background()
	def := fmt.Sprintf(`{"StartAt":"Before","States":{
		"Before":{"Type":"Pass","Next":"Stuck"},
		"Stuck":{"Type":"Task","Resource":"arn:aws:lambda:%s:%s:function:stuck","End":true}}}`, ep.Region, ep.Account)
	sm, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("loop"), Definition: aws.String(def),
		RoleArn: aws.String("arn:aws:iam::" + ep.Account + ":role/odin-local")})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Name: aws.String("suspect")})
	if err != nil {
		t.Fatal(err)
	}
	inStuck := func(ev []types.HistoryEvent, _ *sfn.DescribeExecutionOutput) bool {
		return len(ev) > 0 && ev[len(ev)-1].Type == types.HistoryEventTypeLambdaFunctionStarted
	}
	// restart stops the server (SIGKILL or SIGTERM) while the execution is in
	// Stuck, proves it was (its history ends in the state, unchanged by the
	// stop), and starts a new one.
	starts := 0 // how many times the task has started
	restart := func(sig syscall.Signal) {
		t.Helper()
		before := waitFor(t, c, *ex.ExecutionArn, "the task to run", inStuck)
		starts++
		running := waitForPids(t, pids, starts)
		if err := proc.Signal(sig); err != nil {
			t.Fatal(err)
		}
		proc.Wait()
		proc, ep = startHelperServer(t, dir, fns)
		c = sfnClient(ep, ep.SecretAccessKey)
		after := waitFor(t, c, *ex.ExecutionArn, "the history", func([]types.HistoryEvent, *sfn.DescribeExecutionOutput) bool { return true })
		if len(after) < len(before) || after[len(before)-1].Type != types.HistoryEventTypeLambdaFunctionStarted {
			t.Fatalf("the stop did not land in the state:%s", eventTypes(after))
		}
		// The task the stopped server ran does not run on beside the one the
		// new server runs: the server stopped it, or (killed) its successor.
		for _, pid := range running {
			if !gone(pid) {
				syscall.Kill(-pid, syscall.SIGKILL)
				t.Fatalf("after %s, the interrupted task (pid %d) still runs", sig, pid)
			}
		}
		if log, _ := os.ReadFile(filepath.Join(dir, LogFile)); sig == syscall.SIGKILL &&
			!strings.Contains(string(log), "left running by an earlier server") {
			t.Errorf("the new server's log does not say it stopped the task:\n%s", log)
		}
	}
	status := func() *sfn.DescribeExecutionOutput {
		t.Helper()
		d, err := c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: ex.ExecutionArn})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	restart(syscall.SIGKILL) // died once in Stuck: resumed
	if d := status(); d.Status != types.ExecutionStatusRunning {
		t.Fatalf("after one death: %s, want RUNNING (resumed)", d.Status)
	}
	restart(syscall.SIGTERM) // a clean stop: not a death
	restart(syscall.SIGKILL) // died once since the clean stop: resumed
	if d := status(); d.Status != types.ExecutionStatusRunning {
		t.Fatalf("after a clean stop and one death: %s, want RUNNING (resumed)", d.Status)
	}
	restart(syscall.SIGKILL) // twice in a row at the same point: failed
	events := waitFor(t, c, *ex.ExecutionArn, "the execution to fail", func(_ []types.HistoryEvent, d *sfn.DescribeExecutionOutput) bool {
		return d.Status != types.ExecutionStatusRunning
	})
	d := status()
	if d.Status != types.ExecutionStatusFailed || aws.ToString(d.Error) != "States.Runtime" ||
		!strings.Contains(aws.ToString(d.Cause), "stopped unexpectedly twice in a row while this execution was in the state 'Stuck'") {
		t.Fatalf("after two deaths in a row: %s %s %q%s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause), eventTypes(events))
	}
	for i, e := range events {
		if e.Id != int64(i+1) {
			t.Fatalf("event %d has id %d%s", i, e.Id, eventTypes(events))
		}
	}
	// The server serves: another execution runs to its end.
	pass, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("after"),
		Definition: aws.String(`{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`),
		RoleArn:    aws.String("arn:aws:iam::" + ep.Account + ":role/odin-local")})
	if err != nil {
		t.Fatal(err)
	}
	ok, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: pass.StateMachineArn})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, c, *ok.ExecutionArn, "a new execution", func(_ []types.HistoryEvent, d *sfn.DescribeExecutionOutput) bool {
		return d.Status == types.ExecutionStatusSucceeded
	})
}

// nestedFormat nests States.Format fan-out wide, depth deep, around arg.
func nestedFormat(arg string, fanOut, depth int) string {
	expr := arg
	for range depth {
		expr = "States.Format('" + strings.Repeat("{}", fanOut) + "'" + strings.Repeat(", "+expr, fanOut) + ")"
	}
	return expr
}

// peakRSS reads a process's peak resident set (Linux), in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb)
			return kb * 1024
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// TestHostileExecutionsServerSurvives runs the reproductions on a
// real server process: nested intrinsics over a 250 KB input (a 14 KB
// definition whose value would weigh 125 MB, and used to drive the server
// past 2 GB) and "$..*..*" over a deep input. Each fails its
// execution with AWS's error; the server's peak memory stays small; a
// restart resumes nothing and serves.
func TestHostileExecutionsServerSurvives(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills server processes")
	}
	dir := filepath.Join(t.TempDir(), "data")
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, LogFile))
			t.Logf("server log:\n%s", log)
		}
	})
	proc, ep := startHelperServer(t, dir, nil)
	c := sfnClient(ep, ep.SecretAccessKey)
	ctx := context.Background()
	big := `{"s":"` + strings.Repeat("x", 250*1024) + `"}`
	// 900 deep: the Go SDK fails to decode a DescribeExecution whose input
	// nests a few thousand deep; "$..*..*" makes up for it (d³ bytes).
	deep := strings.Repeat(`{"a":`, 900) + "1" + strings.Repeat("}", 900)
	cases := []struct{ name, expr, input string }{
		{"intrinsics", nestedFormat("$.s", 2, 9), big},
		{"wildcard", "$..*..*", deep},
	}
	var arns []string
	for _, tc := range cases {
		expr, _ := json.Marshal(tc.expr)
		def := `{"StartAt":"Hostile","States":{"Hostile":{"Type":"Pass","Parameters":{"v.$":` + string(expr) + `},"End":true}}}`
		if len(def) > 24*1024 {
			t.Fatalf("%s: the definition is %d bytes", tc.name, len(def))
		}
		sm, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String(tc.name), Definition: aws.String(def),
			RoleArn: aws.String("arn:aws:iam::" + ep.Account + ":role/odin-local")})
		if err != nil {
			t.Fatal(err)
		}
		// Several at once, as an attacker would.
		for i := range 4 {
			ex, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn,
				Name: aws.String(fmt.Sprintf("%s-%d", tc.name, i)), Input: aws.String(tc.input)})
			if err != nil {
				t.Fatal(err)
			}
			arns = append(arns, *ex.ExecutionArn)
		}
	}
	checkFailed := func() {
		t.Helper()
		for _, arn := range arns {
			// Described without the history (it holds the large inputs);
			// a read cut short on the client side is tried again (seen with
			// these 256 KB responses, with the server answering 200).
			var d *sfn.DescribeExecutionOutput
			for tries, deadline := 0, time.Now().Add(60*time.Second); ; tries++ {
				var err error
				d, err = c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
				if err == nil && d.Status != types.ExecutionStatusRunning {
					break
				}
				if time.Now().After(deadline) || (err != nil && tries > 5) {
					t.Fatalf("%s: %v %v", arn, d, err)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if d.Status != types.ExecutionStatusFailed || aws.ToString(d.Error) != "States.DataLimitExceeded" {
				t.Errorf("%s: %s %s %q", arn, d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
			}
		}
	}
	checkFailed()
	rss := peakRSS(t, proc.Pid)
	t.Logf("server peak RSS after 8 hostile executions: %d MB", rss>>20)
	if rss > 512<<20 {
		t.Errorf("server peak RSS %d MB: the budgets must stop hostile evaluations before they spend memory", rss>>20)
	}
	if err := proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	proc.Wait()
	_, ep = startHelperServer(t, dir, nil)
	c = sfnClient(ep, ep.SecretAccessKey)
	checkFailed()
	log, _ := os.ReadFile(filepath.Join(dir, LogFile))
	if strings.Contains(string(log), "resuming execution") {
		t.Errorf("the restart resumed an execution that had ended:\n%s", log)
	}
}

// waitForRun waits until the task has written its first line to runs.
func waitForRun(t *testing.T, runs string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if b, _ := os.ReadFile(runs); strings.Contains(string(b), "run") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the task never started running (no line in %s)", runs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitForPids waits until the file a task appends its pid to holds n pids,
// and returns them.
func waitForPids(t *testing.T, path string, n int) []int {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if lines := strings.Fields(string(b)); len(lines) >= n {
			pids := make([]int, len(lines))
			for i, l := range lines {
				pid, err := strconv.Atoi(l)
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				pids[i] = pid
			}
			return pids
		}
		if time.Now().After(deadline) {
			t.Fatalf("the task never started running %d times (%s holds %q)", n, path, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// gone says whether the process pid has ended (or is a zombie, as one whose
// parent died is until init reaps it), waiting a while for it to.
func gone(pid int) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return true
		}
		// pid (comm) STATE ...: comm may hold spaces, so read after its ')'.
		if i := strings.LastIndexByte(string(b), ')'); i > 0 && strings.HasPrefix(string(b[i+1:]), " Z") {
			return true
		}
	}
	return false
}
