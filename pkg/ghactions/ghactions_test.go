package ghactions

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCommandString(t *testing.T) {
	for _, tc := range []struct {
		c    Command
		want string
	}{
		{Command{Name: "endgroup"}, "::endgroup::"},
		{Command{Name: "group", Message: "Deploy"}, "::group::Deploy"},
		{Annotation{File: "release.yml", Line: 3, Col: 7, Title: "invalid release", Message: "min_size: must be >= 0"}.command("error"),
			"::error title=invalid release,file=release.yml,line=3,col=7::min_size: must be >= 0"},
		// A cause may hold anything: it must stay one command on one line.
		{Command{Name: "error", Properties: map[string]string{"title": "a:b,c=d%"}, Message: "100% down\nnext::line\r"},
			"::error title=a%3Ab%2Cc=d%25::100%25 down%0Anext::line%0D"},
	} {
		if got := tc.c.String(); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}

func TestParseRoundTrip(t *testing.T) {
	for _, c := range []Command{
		{Name: "error", Properties: map[string]string{"file": "a,b:c.yml", "line": "1", "col": "2"}, Message: "x: %0A y\nz"},
		{Name: "group", Message: "[3/11] Deploy"},
		{Name: "endgroup"},
	} {
		got, err := Parse(c.String())
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != c.Name || got.Message != c.Message || !maps.Equal(got.Properties, c.Properties) {
			t.Errorf("%s parsed as %+v", c, got)
		}
	}
}

func TestParseRejects(t *testing.T) {
	if _, err := Parse("[+0s] deploy"); !errors.Is(err, ErrNotCommand) {
		t.Errorf("plain line: %v", err)
	}
	for _, l := range []string{"::error", ":: ::x", "::error file::x", "::er ror::x", "::error a=1,a=2::x"} {
		if _, err := Parse(l); err == nil || errors.Is(err, ErrNotCommand) {
			t.Errorf("%q: %v", l, err)
		}
	}
}

// Text that looks like a command is shown, not obeyed.
func TestLine(t *testing.T) {
	for _, s := range []string{"::add-mask::x", "  ::stop-commands::t", "\t::error::x"} {
		if _, err := Parse(Line(s)); !errors.Is(err, ErrNotCommand) {
			t.Errorf("%q stays a command: %q", s, Line(s))
		}
	}
	if Line("[+0s] ok") != "[+0s] ok" {
		t.Error("plain line changed")
	}
}

func TestCellAndFence(t *testing.T) {
	if got := Cell("a|b\n<img src=x>[l](u)`c`"); got != `a\|b &lt;img src=x&gt;\[l\](u)'c'` {
		t.Errorf("cell %q", got)
	}
	if f := Fence("x ```` y"); f != "`````" {
		t.Errorf("fence %q", f)
	}
	if f := Fence("plain"); f != "```" {
		t.Errorf("fence %q", f)
	}
}

func TestAppendSummary(t *testing.T) {
	path := filepath.Join(t.TempDir(), "summary.md")
	env := func(k string) (string, bool) {
		if k == "GITHUB_STEP_SUMMARY" {
			return path, true
		}
		return "", false
	}
	for _, s := range []string{"# one\n", "two\n"} {
		if err := AppendSummary(env, s); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "# one\ntwo\n" {
		t.Errorf("%q %v", b, err)
	}
	if err := AppendSummary(func(string) (string, bool) { return "", false }, "x"); err != nil {
		t.Errorf("no summary file: %v", err)
	}
	bad := func(string) (string, bool) { return filepath.Join(path, "not-a-dir", "s.md"), true }
	if err := AppendSummary(bad, "x"); err == nil || !strings.Contains(err.Error(), "step summary") {
		t.Errorf("unwritable summary: %v", err)
	}
}

// Whatever a message or property holds, the formatted command parses back
// to the same values.
func FuzzCommand(f *testing.F) {
	f.Add("error", "release.yml", "x\n::y%0A", "a,b:c")
	f.Fuzz(func(t *testing.T, name, file, msg, title string) {
		if name == "" || strings.ContainsAny(name, " :,=%\r\n") || strings.ContainsFunc(name, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
		}) {
			return
		}
		c := Command{Name: name, Properties: map[string]string{"file": file, "title": title}, Message: msg}
		line := c.String()
		if strings.ContainsAny(line, "\r\n") {
			t.Fatalf("%q spans lines", line)
		}
		got, err := Parse(line)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{}
		for k, v := range c.Properties {
			if v != "" {
				want[k] = v
			}
		}
		if len(want) == 0 {
			want = nil
		}
		if got.Name != name || got.Message != strings.TrimRight(msg, " \t") && got.Message != msg || !maps.Equal(got.Properties, want) {
			t.Fatalf("%q parsed as %+v", line, got)
		}
	})
}

func FuzzParse(f *testing.F) {
	f.Add("::error file=a,line=1::m")
	f.Add("::group::x")
	f.Fuzz(func(t *testing.T, line string) {
		c, err := Parse(line)
		if err != nil {
			return
		}
		if _, err := Parse(c.String()); err != nil {
			t.Fatalf("%q parsed to %+v, which does not format back: %v", line, c, err)
		}
	})
}
