package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Start-up budgets, as allocations (deterministic, unlike time, which
// .ci/bench-startup measures): what every odin process pays before main
// runs, in all, and in any one package. Today about 1.7 MB in all, most of
// it the AWS SDK's endpoint tables (about 90 KB a service); the JSON Schema
// library that once took 1.7 MB on its own is gone.
const (
	initBudgetBytes       = 2 << 20
	initBudgetPackageByte = 160 << 10
)

// TestStartupBudget builds odin as a release is built and holds it to what
// keeps its start-up quick:
//   - the linker can drop unused methods: nothing reachable looks methods up
//     by name (text/template does), which would keep every exported method of
//     the AWS SDK (the binary was 77 MB with it, 23 MB without);
//   - package initialisers allocate within the budgets above.
func TestStartupBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("builds odin")
	}
	bin := filepath.Join(t.TempDir(), "odin")
	build := exec.Command("go", "build", "-trimpath", "-tags", "lambda.norpc", "-ldflags", "-dumpdep", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	var deps bytes.Buffer
	build.Stderr = &deps
	if err := build.Run(); err != nil {
		t.Fatalf("go build: %v\n%s", err, tail(deps.String(), 20))
	}

	t.Run("dead code elimination", func(t *testing.T) {
		if chain := reflectMethodChain(deps.Bytes()); chain != "" {
			t.Errorf("a reachable function looks methods up by name, so the linker keeps every exported method:\n%s", chain)
		}
	})

	t.Run("init allocations", func(t *testing.T) {
		cmd := exec.Command(bin, "version")
		cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
		var trace bytes.Buffer
		cmd.Stderr = &trace
		if err := cmd.Run(); err != nil {
			t.Fatalf("odin version: %v\n%s", err, tail(trace.String(), 20))
		}
		total, per := initAllocations(t, trace.String())
		if len(per) < 50 {
			t.Fatalf("the init trace lists %d packages; is GODEBUG=inittrace=1 honoured?\n%s", len(per), tail(trace.String(), 20))
		}
		type pkg struct {
			name  string
			bytes int
		}
		var top []pkg
		for name, b := range per {
			top = append(top, pkg{name, b})
		}
		sort.Slice(top, func(i, j int) bool { return top[i].bytes > top[j].bytes })
		var b strings.Builder
		for _, p := range top[:min(8, len(top))] {
			fmt.Fprintf(&b, "  %8d bytes  %s\n", p.bytes, p.name)
		}
		t.Logf("package initialisers allocate %d bytes in all (%s); the most:\n%s", total, runtime.GOARCH, b.String())
		if total > initBudgetBytes {
			t.Errorf("package initialisers allocate %d bytes, over the budget of %d", total, initBudgetBytes)
		}
		for _, p := range top {
			if p.bytes > initBudgetPackageByte {
				t.Errorf("the initialiser of %s allocates %d bytes, over the budget of %d for one package: make it lazy, or keep the package out of the binary", p.name, p.bytes, initBudgetPackageByte)
			}
		}
	})
}

// initAllocations reads GODEBUG=inittrace=1 lines:
// "init PKG @T ms, C ms clock, B bytes, A allocs".
func initAllocations(t *testing.T, trace string) (total int, per map[string]int) {
	per = map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(trace))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[0] != "init" || f[8] != "bytes," {
			continue
		}
		n, err := strconv.Atoi(f[7])
		if err != nil {
			t.Fatalf("init trace line %q: %v", sc.Text(), err)
		}
		per[f[1]] += n
		total += n
	}
	return total, per
}

// reflectMethodChain finds, in the linker's -dumpdep output ("a -> b" for
// each symbol reached, b first reached from a), a reachable function marked
// <ReflectMethod>, and returns how it is reached from the entry point; "" if
// there is none.
func reflectMethodChain(dump []byte) string {
	parent := map[string]string{}
	var marked []string
	sc := bufio.NewScanner(bytes.NewReader(dump))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		from, to, ok := strings.Cut(sc.Text(), " -> ")
		if !ok {
			continue
		}
		fromFields, toFields := strings.Fields(from), strings.Fields(to)
		if len(fromFields) == 0 || len(toFields) == 0 {
			continue
		}
		if slices.Contains(fromFields[1:], "<ReflectMethod>") {
			marked = append(marked, fromFields[0])
		}
		if _, seen := parent[toFields[0]]; !seen {
			parent[toFields[0]] = fromFields[0]
		}
	}
	if len(marked) == 0 {
		return ""
	}
	var chain []string
	for n, hops := marked[0], 0; n != "" && hops < 30; n, hops = parent[n], hops+1 {
		chain = append(chain, "  "+n)
	}
	return strings.Join(chain, "\n    reached from\n")
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}

func TestReflectMethodChain(t *testing.T) {
	dump := []byte(`# github.com/odin-deploy/odin
_ -> main.main
main.main -> cmd.NewRootCmd
cmd.NewRootCmd -> text/template.(*Template).Execute
text/template.(*Template).Execute -> text/template.(*state).evalField
text/template.(*state).evalField <ReflectMethod> -> reflect.Value.MethodByName
`)
	chain := reflectMethodChain(dump)
	for _, want := range []string{"text/template.(*state).evalField", "cmd.NewRootCmd", "main.main"} {
		if !strings.Contains(chain, want) {
			t.Errorf("chain %q lacks %s", chain, want)
		}
	}
	if got := reflectMethodChain(bytes.ReplaceAll(dump, []byte(" <ReflectMethod>"), nil)); got != "" {
		t.Errorf("no marked function, yet a chain: %q", got)
	}
}
