package engine

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/odin-deploy/odin/pkg/local/asl"
	"github.com/odin-deploy/odin/pkg/local/jsonpath"
)

// Budgets: every evaluation of a path, payload template or intrinsic has one
// (see jsonpath.MaxValueBytes, MaxBuiltBytes and MaxSteps), and every value
// a state hands on is weighed before it is written out. Breaking a budget
// fails the execution with the error AWS raises for the same excess, never
// with the server's memory.

// dataLimitFailure is AWS's error for a state whose result is over the
// payload limit (recorded: 17-pass-result-too-large). It is neither retried
// nor caught, as AWS does for a state's own output.
func dataLimitFailure(st string) *failure {
	return &failure{name: "States.DataLimitExceeded", terminal: true,
		cause: fmt.Sprintf("The state/task '%s' returned a result with a size exceeding the maximum number of bytes service limit.", st)}
}

// limitFailure turns an evaluation stopped by its budget into the error AWS
// raises: a value too large is States.DataLimitExceeded, too much work
// States.Runtime.
func (r *stateRun) limitFailure(le *jsonpath.LimitError) *failure {
	if !le.Steps {
		return dataLimitFailure(r.st.Name)
	}
	return r.runtime(fmt.Sprintf("The local backend stopped the evaluation of '%s' after %d steps, its limit for one evaluation.", le.Expr, le.Limit))
}

// overPayload reports whether v weighs more than MaxPayloadBytes as JSON,
// without writing it out: values share structure, so a small tree in memory
// can be enormous as text.
func overPayload(v any) bool {
	_, ok := jsonpath.Size(v, MaxPayloadBytes)
	return !ok
}

// errResultTooLarge says a task function answered more than MaxPayloadBytes.
var errResultTooLarge = errors.New("task result over the payload limit")

// maxCommandOutput is the most of a command function's stdout kept: a result
// over the payload limit fails anyway, and a command that writes without end
// must not fill the server's memory.
const maxCommandOutput = MaxPayloadBytes + 64*1024

// cappedBuffer keeps the first max bytes written to it. Past them it
// either refuses the write (stop: the copy from the process ends and the
// process gets SIGPIPE, so a command that writes without end is stopped) or
// discards the rest quietly; either way it remembers that it overflowed.
type cappedBuffer struct {
	buf      bytes.Buffer
	max      int
	stop     bool
	overflow bool
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); room < len(p) {
		c.overflow = true
		c.buf.Write(p[:max(room, 0)])
		if c.stop {
			return max(room, 0), errResultTooLarge
		}
		return len(p), nil
	}
	return c.buf.Write(p)
}

func (c *cappedBuffer) Bytes() []byte  { return c.buf.Bytes() }
func (c *cappedBuffer) String() string { return c.buf.String() }

// resultTooLarge is the failure of a task whose function answered over the
// payload limit: the task result's own DataLimitExceeded, which a catcher
// may catch (recorded on AWS), naming the task as AWS does (see task).
func (r *stateRun) resultTooLarge() *failure {
	in := r.st.Integration
	task := in.ResourceType
	if in.Kind == asl.LambdaARN {
		task = r.st.Resource
	}
	return &failure{name: "States.DataLimitExceeded",
		cause: fmt.Sprintf("The state/task '%s' returned a result with a size exceeding the maximum number of bytes service limit.", task)}
}
