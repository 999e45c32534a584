package exitcode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Every documented code comes out of Of for the errors that ask for it, and
// nothing else: a ctrl-c that ends a watch (a cancelled context) is 5, "still
// running", as README's table says, not 1.
func TestOf(t *testing.T) {
	base := errors.New("boom")
	cases := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, OK},
		{"plain error", base, Failed},
		{"wrapped plain error", fmt.Errorf("deploy: %w", base), Failed},
		{"failed", New(Failed, base), Failed},
		{"usage", UsageError(base), Usage},
		{"usage wrapped", fmt.Errorf("validate: %w", UsageError(base)), Usage},
		{"timed out", New(TimedOut, base), TimedOut},
		{"aborted", New(Aborted, base), Aborted},
		{"running", New(Running, nil), Running},
		{"ctrl-c: context cancelled", context.Canceled, Running},
		{"ctrl-c wrapped", fmt.Errorf("get history: %w", context.Canceled), Running},
		{"ctrl-c joined with a cleanup error", errors.Join(context.Canceled, base), Running},
		{"a deadline is not a ctrl-c", context.DeadlineExceeded, Failed},
		{"outermost code wins", New(Aborted, fmt.Errorf("x: %w", New(TimedOut, base))), Aborted},
		{"code beats cancellation", New(Usage, context.Canceled), Usage},
		{"explicit OK", New(OK, nil), OK},
		{"interrupted", New(Interrupted, nil), Interrupted},
		{"terminated", New(Terminated, nil), Terminated},
	}
	for _, c := range cases {
		if got := Of(c.err); got != c.want {
			t.Errorf("%s: Of(%v) = %d, want %d", c.name, c.err, got, c.want)
		}
	}
}

func TestErrorKeepsItsCause(t *testing.T) {
	base := errors.New("boom")
	err := New(TimedOut, base)
	if err.Error() != "boom" || !errors.Is(err, base) {
		t.Errorf("New(3, boom): %q, unwraps to boom: %v", err, errors.Is(err, base))
	}
	if New(Running, nil).Error() != "" {
		t.Error("a silent exit has a message")
	}
}

func TestSignalled(t *testing.T) {
	if got := Signalled(os.Interrupt); got != 128+2 {
		t.Errorf("SIGINT: %d", got)
	}
	if got := Signalled(syscall.SIGTERM); got != 128+15 {
		t.Errorf("SIGTERM: %d", got)
	}
}

// The constants are README's table, row for row: a code that changed here
// and not there (or the reverse) breaks users' scripts silently.
func TestCodesAreREADMEs(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(b), "## Exit codes\n")
	if !ok {
		t.Fatal("README has no Exit codes section")
	}
	table, _, _ = strings.Cut(table, "\n## ")
	row := regexp.MustCompile(`(?m)^\| (\d+) \| ([a-z ]+):`)
	documented := map[int]string{}
	for _, m := range row.FindAllStringSubmatch(table, -1) {
		n, _ := strconv.Atoi(m[1])
		documented[n] = m[2]
	}
	want := map[int]string{OK: "succeeded", Failed: "failed", Usage: "bad usage", TimedOut: "timed out",
		Aborted: "aborted or halted", Running: "still running", Interrupted: "interrupted", Terminated: "terminated"}
	if len(documented) != len(want) {
		t.Errorf("README documents %d codes %v, the package %d", len(documented), documented, len(want))
	}
	for code, meaning := range want {
		if documented[code] != meaning {
			t.Errorf("code %d: README says %q, want %q", code, documented[code], meaning)
		}
	}
}
