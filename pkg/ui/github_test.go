package ui

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/odin-deploy/odin/pkg/ghactions"
	"github.com/odin-deploy/odin/pkg/iostreams"
	"github.com/odin-deploy/odin/pkg/progress"
	"github.com/odin-deploy/odin/pkg/watch"
	"github.com/odin-deploy/odin/pkg/watch/watchtest"
)

// watchRecorded runs a view in mode over a recorded deployer history, read
// through the real tailer, and returns the model, the verdict and stdout.
func watchRecorded(t *testing.T, name string, mode Mode) (*progress.Model, progress.Verdict, []byte) {
	t.Helper()
	d, _ := watchtest.Recorded(t, name)
	h, err := watchtest.ReadHistory(watchtest.HistoryPath(name))
	if err != nil {
		t.Fatal(err)
	}
	tl := watch.New(watchtest.NewReplay(t, d, h).Client(), watchtest.ExecutionArn, watch.Options{IncludeData: true})
	_, g, err := tl.Definition(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := progress.FromGraph(g, header)
	io, _, out, errOut := iostreams.Test()
	v := New(m, Options{Mode: mode, IO: io, Now: fixedNow})
	vd, err := v.Run(context.Background(), tl.Run)
	if err != nil {
		t.Fatal(err)
	}
	if errOut.Len() > 0 {
		t.Errorf("stderr: %s", errOut)
	}
	return m, vd, out.Bytes()
}

func fixedNow() time.Time { return time.Date(2026, 11, 25, 22, 0, 0, 0, time.UTC) }

// The GitHub Actions log of a success and of failures: plain lines, each
// step's and each loop's folded into a group, an ::error on failure.
func TestGitHubGolden(t *testing.T) {
	for _, name := range []string{"deploy-retry", "unhealthy", "timeout"} {
		t.Run(name, func(t *testing.T) {
			_, vd, out := watchRecorded(t, name, ModeGitHub)
			errors := 0
			for _, c := range checkWorkflowCommands(t, out) {
				if c.Name == "error" {
					errors++
					if !strings.Contains(c.Properties["title"], "at CheckHealthy") || !strings.Contains(c.Message, "CheckHealthy: ") {
						t.Errorf("error annotation without the failing step and cause: %+v", c)
					}
				}
			}
			if want := map[bool]int{true: 0, false: 1}[vd.Code == 0]; errors != want {
				t.Errorf("%d ::error lines for verdict %s, want %d", errors, vd.Status, want)
			}
			golden(t, name+".github", out)
		})
	}
}

// Every history, through the GitHub renderer: every line that starts with
// "::" is a workflow command by the runner's grammar, groups never nest
// and all are closed, and the plain lines are all there, in order.
func TestGitHubWorkflowCommands(t *testing.T) {
	for _, name := range histories {
		t.Run(name, func(t *testing.T) {
			_, _, out := watchRecorded(t, name, ModeGitHub)
			checkWorkflowCommands(t, out)
			_, _, plain := watchRecorded(t, name, ModePlain)
			var kept []string
			for _, l := range strings.SplitAfter(string(out), "\n") {
				if !strings.HasPrefix(l, "::") {
					kept = append(kept, l)
				}
			}
			if got := strings.Join(kept, ""); got != string(plain) {
				t.Errorf("without its commands, the GitHub log is not the plain one:\n%s\n--- plain\n%s", got, plain)
			}
		})
	}
}

func checkWorkflowCommands(t *testing.T, out []byte) []ghactions.Command {
	t.Helper()
	var cmds []ghactions.Command
	open := false
	for i, l := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		c, err := ghactions.Parse(l)
		if errors.Is(err, ghactions.ErrNotCommand) {
			continue
		}
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		switch c.Name {
		case "group":
			if open {
				t.Errorf("line %d: a group opens inside another: %s", i+1, l)
			}
			if c.Message == "" {
				t.Errorf("line %d: untitled group", i+1)
			}
			open = true
		case "endgroup":
			if !open {
				t.Errorf("line %d: endgroup with no group open", i+1)
			}
			open = false
		case "error", "warning":
		default:
			t.Errorf("line %d: unexpected command %q", i+1, c.Name)
		}
		cmds = append(cmds, c)
	}
	if open {
		t.Error("a group is left open")
	}
	return cmds
}

// The step summary of a success and of a failure, which quotes odin fail's
// report (pkg/diagnose's golden of the same recorded history).
func TestStepSummaryGolden(t *testing.T) {
	for _, name := range []string{"deploy-retry", "unhealthy"} {
		t.Run(name, func(t *testing.T) {
			m, vd, _ := watchRecorded(t, name, ModeGitHub)
			var report string
			if vd.Code != 0 {
				b, err := os.ReadFile(filepath.Join("..", "diagnose", "testdata", name+".golden.txt"))
				if err != nil {
					t.Fatal(err)
				}
				report = string(b)
			}
			var buf bytes.Buffer
			if err := WriteStepSummary(&buf, m, vd, fixedNow(), report); err != nil {
				t.Fatal(err)
			}
			golden(t, name+".summary.md", buf.Bytes())
		})
	}
}

// A cause is remote text: in the log it cannot become a workflow command,
// and in the summary it cannot break the table or the code block.
func TestGitHubHostileCause(t *testing.T) {
	m, err := progress.New([]byte(`{"StartAt":"Deploy","States":{"Deploy":{"Type":"Pass","End":true}}}`), header)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	g := NewGitHub(&out, m)
	cause := "::add-mask::x\n| col | <img src=//evil> ``` end"
	at := fixedNow()
	for _, ev := range []watch.Event{
		{Kind: watch.ExecutionStarted, Time: at},
		{Kind: watch.StepEntered, State: "Deploy", Step: "Deploy", Time: at},
		{Kind: watch.StepFailed, State: "Deploy", Step: "Deploy", Error: "DeployError", Cause: cause, Time: at},
		{Kind: watch.ExecutionEnded, Status: "FAILED", Error: "DeployError", Cause: cause, Time: at},
	} {
		m.Apply(ev)
		g.Event(ev)
	}
	vd := m.Verdict(at)
	g.Finish(vd)
	for _, c := range checkWorkflowCommands(t, out.Bytes()) {
		if c.Name != "group" && c.Name != "endgroup" && c.Name != "error" {
			t.Errorf("cause became a command: %+v", c)
		}
	}
	var sum bytes.Buffer
	if err := WriteStepSummary(&sum, m, vd, at, "report with ``` fences"); err != nil {
		t.Fatal(err)
	}
	s := sum.String()
	if strings.Contains(s, "<img") || strings.Contains(s, "| col |") || !strings.Contains(s, "````text\nreport with ``` fences\n````") {
		t.Errorf("summary lets the cause through:\n%s", s)
	}
}
