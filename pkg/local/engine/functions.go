package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/odin-deploy/odin/pkg/procgroup"
)

// Functions maps Lambda function names to what runs them locally: an
// in-process TaskFunc or an external command. It is safe for concurrent use.
type Functions struct {
	mu  sync.RWMutex
	fns map[string]TaskFunc
	// records is where running commands are recorded (RecordCommands);
	// nil when they are not.
	records *procgroup.Records
	logger  *slog.Logger
}

// NewFunctions returns an empty registry.
func NewFunctions() *Functions { return &Functions{fns: map[string]TaskFunc{}} }

// Register makes name run fn.
func (f *Functions) Register(name string, fn TaskFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fns == nil {
		f.fns = map[string]TaskFunc{}
	}
	f.fns[name] = fn
}

// RegisterCommand makes name run argv as a process: the task input is written
// to its stdin as JSON and its stdout is the result. A non-zero exit with
// {"errorType","errorMessage"} on stdout is that error; any other failure is
// Lambda.Unknown. env is added to this process's environment; dir is the
// working directory ("" for the current one). When the task times out (or the
// execution stops) the whole process group is killed. Each run's environment
// also holds ODIN_TASK, a value no other run has (see RecordCommands).
func (f *Functions) RegisterCommand(name string, argv []string, env []string, dir string) {
	argv = append([]string(nil), argv...)
	env = append([]string(nil), env...)
	f.Register(name, func(ctx context.Context, input json.RawMessage) (json.RawMessage, error) {
		return f.runCommand(ctx, name, argv, env, dir, input)
	})
}

// RecordCommands makes every command run record its process group in dir
// until it ends, found by its ODIN_TASK, so that a server started after this
// one was killed can stop the commands it left running (procgroup.Records'
// StopLeft) before it resumes their executions, which runs them again.
func (f *Functions) RecordCommands(dir string, logger *slog.Logger) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.records, f.logger = &procgroup.Records{Dir: dir}, logger
}

// Lookup finds the function for a name, a function ARN (with or without a
// version or alias qualifier) or a partial ARN (ACCOUNT:function:NAME).
func (f *Functions) Lookup(nameOrARN string) (TaskFunc, bool) {
	name := FunctionName(nameOrARN)
	f.mu.RLock()
	defer f.mu.RUnlock()
	fn, ok := f.fns[name]
	return fn, ok
}

// FunctionName extracts the function name from any of Lambda's accepted
// forms: NAME, NAME:QUALIFIER, ACCOUNT:function:NAME, or a full ARN.
func FunctionName(s string) string {
	parts := strings.Split(s, ":")
	for i, p := range parts {
		if p == "function" && i+1 < len(parts) {
			return parts[i+1]
		}
	}
	if len(parts) == 2 { // NAME:QUALIFIER
		return parts[0]
	}
	return s
}

// errorType names a Go error the way aws-lambda-go does.
func errorType(err error) string {
	var te *TaskError
	if errors.As(err, &te) {
		return te.ErrorType
	}
	var typed interface{ ErrorType() string }
	if errors.As(err, &typed) {
		return typed.ErrorType()
	}
	t := reflect.TypeOf(err)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Name() == "" {
		return "error"
	}
	return t.Name()
}

// lambdaCause is the JSON AWS puts in cause for a Lambda error.
func lambdaCause(errType, msg string, stack []string) string {
	if stack == nil {
		stack = []string{}
	}
	b, _ := json.Marshal(struct {
		ErrorMessage string   `json:"errorMessage"`
		ErrorType    string   `json:"errorType"`
		StackTrace   []string `json:"stackTrace"`
	}{msg, errType, stack})
	return string(b)
}

// taskFailure turns a TaskFunc error into the history's error and cause.
func taskFailure(err error) *failure {
	var te *TaskError
	if errors.As(err, &te) {
		return &failure{name: te.ErrorType, cause: lambdaCause(te.ErrorType, te.ErrorMessage, te.StackTrace)}
	}
	typ := errorType(err)
	return &failure{name: typ, cause: lambdaCause(typ, err.Error(), nil)}
}

const commandKillGrace = 2 * time.Second

func (f *Functions) runCommand(ctx context.Context, name string, argv, env []string, dir string, input json.RawMessage) (json.RawMessage, error) {
	if len(argv) == 0 {
		return nil, &TaskError{ErrorType: "Lambda.Unknown", ErrorMessage: "the function's command is empty"}
	}
	f.mu.RLock()
	records, logger := f.records, f.logger
	f.mu.RUnlock()
	token := newTaskToken()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Env = append(cmd.Env, "ODIN_TASK="+token)
	cmd.Stdin = bytes.NewReader(input)
	stdout, stderr := &cappedBuffer{max: maxCommandOutput, stop: true}, &cappedBuffer{max: 64 * 1024}
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	// A timeout kills the command's children too, and a command that exits
	// leaves none running behind it.
	group := procgroup.New(cmd)
	cmd.Cancel = func() error { return group.Signal(syscall.SIGKILL) }
	cmd.WaitDelay = commandKillGrace
	err := cmd.Start()
	if err == nil {
		if records != nil {
			rec := procgroup.Record{PGID: cmd.Process.Pid, Env: []string{"ODIN_TASK=" + token}, Labels: taskLabels(ctx, name)}
			if err := records.Add(token+".json", rec); err != nil {
				logger.Warn("cannot record a running command task: a killed server would leave it running", "function", name, "error", err)
			}
			defer records.Remove(token + ".json")
		}
		err = group.Wait()
	}
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	if stdout.overflow {
		return nil, errResultTooLarge
	}
	out := bytes.TrimSpace(stdout.Bytes())
	if err != nil {
		var le struct {
			ErrorType    string   `json:"errorType"`
			ErrorMessage string   `json:"errorMessage"`
			StackTrace   []string `json:"stackTrace"`
		}
		if json.Unmarshal(out, &le) == nil && le.ErrorType != "" {
			return nil, &TaskError{ErrorType: le.ErrorType, ErrorMessage: le.ErrorMessage, StackTrace: le.StackTrace}
		}
		msg := fmt.Sprintf("command %s failed: %v", argv[0], err)
		if s := strings.TrimSpace(stderr.String()); s != "" {
			msg += ": " + lastLine(s)
		}
		return nil, &TaskError{ErrorType: "Lambda.Unknown", ErrorMessage: msg}
	}
	if len(out) == 0 {
		return json.RawMessage("null"), nil
	}
	if !json.Valid(out) {
		return nil, &TaskError{ErrorType: "Lambda.Unknown", ErrorMessage: fmt.Sprintf("command %s wrote output that is not JSON", argv[0])}
	}
	return json.RawMessage(out), nil
}

func newTaskToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// taskKey carries what names a task in the log (taskLabels) to its function.
type taskKey struct{}

type taskInfo struct{ execution, state string }

func withTask(ctx context.Context, execution, state string) context.Context {
	return context.WithValue(ctx, taskKey{}, taskInfo{execution, state})
}

// taskLabels names a command task for whoever stops it after a crash.
func taskLabels(ctx context.Context, function string) map[string]string {
	l := map[string]string{"function": function}
	if ti, ok := ctx.Value(taskKey{}).(taskInfo); ok {
		l["execution"], l["state"] = ti.execution, ti.state
	}
	return l
}

func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
