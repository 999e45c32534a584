package ui

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/odin-deploy/odin/pkg/iostreams"
	"github.com/odin-deploy/odin/pkg/progress"
	"github.com/odin-deploy/odin/pkg/watch"
	"github.com/odin-deploy/odin/pkg/watch/watchtest"
)

// runRecorded runs a view of a recorded history and returns what it wrote.
func runRecorded(t *testing.T, name string, opts Options) (mode Mode, out, errOut string) {
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
	io, _, o, e := iostreams.Test()
	if opts.IO != nil {
		io.SetStdoutTTY(opts.IO.IsStdoutTTY())
	}
	opts.IO = io
	opts.Now = func() time.Time { return time.Date(2026, 11, 25, 22, 0, 0, 0, time.UTC) }
	v := New(progress.FromGraph(g, header), opts)
	if _, err := v.Run(context.Background(), tl.Run); err != nil {
		t.Fatal(err)
	}
	return v.Mode(), o.String(), e.String()
}

// --quiet: plain output is the verdict line alone, on a terminal too (no
// TUI); JSON lines are machine output and do not change.
func TestQuiet(t *testing.T) {
	for _, name := range []string{"deploy-retry", "unhealthy"} {
		t.Run(name, func(t *testing.T) {
			full, err := os.ReadFile(filepath.Join("testdata", name+".txt.golden"))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(string(full), "\n"), "\n")
			verdict := lines[len(lines)-1] + "\n"

			tty, _, _, _ := iostreams.Test()
			tty.SetStdoutTTY(true)
			for _, opts := range []Options{{Mode: ModePlain, Quiet: true}, {Mode: ModeAuto, IO: tty, Quiet: true}, {Mode: ModeTUI, Quiet: true}} {
				mode, out, errOut := runRecorded(t, name, opts)
				if mode != ModePlain {
					t.Errorf("%s --quiet: rendered as %s, want plain", opts.Mode, mode)
				}
				if out != verdict || errOut != "" {
					t.Errorf("%s --quiet: stdout %q, stderr %q; want only %q", opts.Mode, out, errOut, verdict)
				}
			}

			_, out, _ := runRecorded(t, name, Options{Mode: ModeJSON, Quiet: true})
			want, err := os.ReadFile(filepath.Join("testdata", name+".jsonl.golden"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal([]byte(out), want) {
				t.Errorf("--output json --quiet differs from --output json:\n%s", out)
			}
		})
	}
}
