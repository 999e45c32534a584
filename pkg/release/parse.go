package release

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	gyaml "github.com/goccy/go-yaml"
	goccy "github.com/goccy/go-yaml/parser"
	yaml "go.yaml.in/yaml/v3"
)

// MaxSize is the largest release file odin reads (1 MiB). Real releases are a
// few KiB; the cap bounds the work a hostile file can cause.
const MaxSize = 1 << 20

// maxDepth bounds nesting: the schema is six levels deep, so anything deeper
// is a mistake, and the bound keeps every later walk shallow.
const maxDepth = 24

// Load reads the release file at path and parses it with Parse. The error is
// Problems when the file is invalid, and an I/O error when it cannot be read.
func Load(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read release file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read release file %s: %w", path, err)
	}
	return Parse(path, data)
}

// Parse parses and validates the release file data, reported under name.
// Every problem is found at once; the error is then Problems, in file order.
// data is kept as it is: File.Bytes is exactly data and File.SHA256 its digest.
func Parse(name string, data []byte) (*File, error) {
	c := checker{file: name}
	tree, ok := c.document(data)
	if ok {
		c.validate(tree)
	}
	if len(c.problems) > 0 {
		return nil, c.problems.sorted()
	}
	root, _ := tree.value.(map[string]any)
	r := decodeRelease(root)
	sum := sha256.Sum256(data)
	return &File{Release: r, Bytes: data, SHA256: hex.EncodeToString(sum[:]), Path: name}, nil
}

// Pos is a 1-based position in a file.
type Pos struct{ Line, Col int }

// loc is where a value of the tree came from.
type loc struct {
	key   Pos    // the key naming the value (the value itself for list items and the root)
	value Pos    // the value; for a mapping, where it starts
	path  string // how messages name it: services.web.env.PORT, subnets[1]
	field string // the key or index, as written
}

// tree is the release as JSON-like values, with where each came from.
type tree struct {
	value any
	locs  map[string]loc // by instance location, tokens joined with pathSep
	// poisoned locations held a value the parser already complained about
	// (an alias, a tag); schema errors about them would only repeat it.
	poisoned map[string]bool
}

const pathSep = "\x00"

// checker collects the problems of one file.
type checker struct {
	file     string
	problems Problems
}

// add records a problem. Its message is made printable: it may quote what
// the file says (a tag, an anchor name), and a problem is one line.
func (c *checker) add(p Pos, format string, args ...any) {
	c.problems = append(c.problems, Problem{File: c.file, Line: p.Line, Col: p.Col, Message: printable(fmt.Sprintf(format, args...))})
}

// document turns the bytes into a tree, or reports why it cannot.
func (c *checker) document(data []byte) (*tree, bool) {
	if len(data) > MaxSize {
		c.add(Pos{1, 1}, "file is larger than 1 MiB, the limit for release files")
		return nil, false
	}
	if !utf8.Valid(data) {
		off := invalidUTF8(data)
		c.add(offsetPos(data, off), "invalid UTF-8 (byte 0x%02x at offset %d); release files are UTF-8 text", data[off], off)
		return nil, false
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			c.add(Pos{1, 1}, "file is empty; a release needs at least project_name, config_name, target and services")
			return nil, false
		}
		c.syntaxError(data, err)
		return nil, false
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		c.add(Pos{next.Line, next.Column}, "a second YAML document starts here; a release file holds exactly one")
		return nil, false
	} else if !errors.Is(err, io.EOF) {
		c.syntaxError(data, err)
		return nil, false
	}
	if len(doc.Content) == 0 {
		c.add(Pos{1, 1}, "file is empty; a release needs at least project_name, config_name, target and services")
		return nil, false
	}
	t := &tree{locs: make(map[string]loc, 64), poisoned: map[string]bool{}}
	root := doc.Content[0]
	t.value = c.convert(t, root, "", loc{key: pos(root), value: pos(root)}, 0)
	return t, true
}

func pos(n *yaml.Node) Pos { return Pos{n.Line, n.Column} }

var lineRE = lazyRegexp(`^yaml: line (\d+): (.*)$`)

// syntaxError reports a YAML syntax error. yaml.v3 knows only a line, so
// goccy's parser, whose errors carry a column, is asked too when that is
// cheap (see goccySafe).
func (c *checker) syntaxError(data []byte, err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	p := Pos{1, 1}
	if m := lineRE().FindStringSubmatch(err.Error()); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	// yaml.v3 often names the line where a construct began rather than
	// where it broke; goccy points at the offending token, so it wins.
	if gp, gmsg, ok := goccyError(data); ok {
		p, msg = gp, gmsg
	}
	p.Line, p.Col = max(p.Line, 1), max(p.Col, 1)
	c.add(p, "YAML syntax error: %s", msg)
}

// printable escapes control characters, which parsers quote raw in their
// messages ("found character '\t'"), so a message stays on one line.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, controlEscapes.Replace(s))
}

var controlEscapes = strings.NewReplacer("\t", `\t`, "\r", `\r`, "\n", `\n`)

func goccyError(data []byte) (p Pos, msg string, ok bool) {
	if !goccySafe(data) {
		return p, "", false
	}
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	_, err := goccy.ParseBytes(data, 0, goccy.AllowDuplicateMapKey())
	var se *gyaml.SyntaxError
	if !errors.As(err, &se) || se.Token == nil {
		return p, "", false
	}
	return Pos{se.Token.Position.Line, se.Token.Position.Column}, se.Message, true
}

// goccySafe says whether goccy can parse data quickly. Its time grows with
// the square of the nesting and of the size on some inputs (64 KiB of "- "
// takes it 6 s), so it only sees small files without deep nesting; release
// files are a few KiB, and larger ones get yaml.v3's line alone.
func goccySafe(data []byte) bool {
	if len(data) > 16<<10 || bytes.Count(data, []byte("["))+bytes.Count(data, []byte("{")) > 64 {
		return false
	}
	for line := range bytes.Lines(data) {
		if bytes.Count(line, []byte("- "))+bytes.Count(line, []byte(": ")) > 8 {
			return false
		}
	}
	return true
}

// convert turns n into JSON-like values (map[string]any, []any, string,
// int64, float64, bool, nil), recording where each came from.
func (c *checker) convert(t *tree, n *yaml.Node, path string, l loc, depth int) any {
	t.locs[path] = l
	if depth > maxDepth {
		c.add(pos(n), "%snested more than %d levels deep", prefix(l.path), maxDepth)
		t.poisoned[path] = true
		return nil
	}
	if n.Anchor != "" {
		c.add(pos(n), "%sYAML anchors (&%s) are not allowed in release files; write the value out", prefix(l.path), n.Anchor)
	}
	switch n.Kind {
	case yaml.AliasNode:
		c.add(pos(n), "%sYAML aliases (*%s) are not allowed in release files; write the value out", prefix(l.path), n.Value)
		t.poisoned[path] = true
		return nil
	case yaml.MappingNode:
		return c.mapping(t, n, path, l, depth)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for i, item := range n.Content {
			ip := fmt.Sprintf("%s[%d]", l.path, i)
			il := loc{key: pos(item), value: pos(item), path: ip, field: strconv.Itoa(i)}
			out = append(out, c.convert(t, item, childPath(path, strconv.Itoa(i)), il, depth+1))
		}
		return out
	case yaml.ScalarNode:
		return c.scalar(t, n, path, l)
	}
	c.add(pos(n), "%sunexpected YAML node", prefix(l.path))
	t.poisoned[path] = true
	return nil
}

func (c *checker) mapping(t *tree, n *yaml.Node, path string, l loc, depth int) any {
	out := make(map[string]any, len(n.Content)/2)
	seen := make(map[string]Pos, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			c.add(pos(k), "%skeys must be plain strings, not a %s", prefix(l.path), nodeKind(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			c.add(pos(k), "%sYAML merge keys (<<) are not allowed in release files; write the keys out", prefix(l.path))
			continue
		}
		if k.Anchor != "" {
			c.add(pos(k), "%sYAML anchors (&%s) are not allowed in release files; write the value out", prefix(l.path), k.Anchor)
		}
		if first, dup := seen[k.Value]; dup {
			c.add(pos(k), "%sduplicate key %q (first at line %d, column %d)", prefix(l.path), k.Value, first.Line, first.Col)
			continue
		}
		seen[k.Value] = pos(k)
		kl := loc{key: pos(k), value: pos(v), path: joinPath(l.path, k.Value), field: k.Value}
		out[k.Value] = c.convert(t, v, childPath(path, k.Value), kl, depth+1)
	}
	return out
}

func (c *checker) scalar(t *tree, n *yaml.Node, path string, l loc) any {
	tag := n.ShortTag()
	if n.Style&yaml.TaggedStyle != 0 && tag != "!!str" {
		c.add(pos(n), "%sYAML tag %s is not allowed in release files; only !!str is", prefix(l.path), n.Tag)
		t.poisoned[path] = true
		return nil
	}
	switch tag {
	case "!!null":
		return nil
	case "!!bool":
		// Plain decimal and true/false are parsed here, as yaml.v3 would,
		// without the decoder it allocates per call; other spellings (0x1F,
		// 1_000, True) go through yaml.v3 itself.
		if b, err := strconv.ParseBool(n.Value); err == nil && (n.Value == "true" || n.Value == "false") {
			return b
		}
		var b bool
		if n.Decode(&b) == nil {
			return b
		}
	case "!!int":
		if i, err := strconv.ParseInt(n.Value, 10, 64); err == nil {
			return i
		}
		var i int64
		if n.Decode(&i) == nil {
			return i
		}
		var f float64
		if n.Decode(&f) == nil && !math.IsInf(f, 0) {
			return f
		}
		c.add(pos(n), "%snumber %s is too large", prefix(l.path), n.Value)
		t.poisoned[path] = true
		return nil
	case "!!float":
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil {
			err = n.Decode(&f)
		}
		if err == nil {
			if math.IsInf(f, 0) || math.IsNaN(f) {
				c.add(pos(n), "%s%s is not a finite number", prefix(l.path), n.Value)
				t.poisoned[path] = true
				return nil
			}
			return f
		}
	}
	return n.Value
}

// childPath is the instance location of key under parent, as the schema
// validator spells it: tokens joined with pathSep.
func childPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + pathSep + key
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	}
	return "value"
}

// prefix starts a message with the path it is about.
func prefix(path string) string {
	if path == "" {
		return ""
	}
	return path + ": "
}

var plainKey = lazyRegexp(`^[A-Za-z0-9_-]+$`)

func joinPath(parent, key string) string {
	if !plainKey().MatchString(key) {
		return parent + "[" + strconv.Quote(key) + "]"
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func invalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return 0
}

// offsetPos is the line and column (in runes) of byte offset off.
func offsetPos(data []byte, off int) Pos {
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	start := bytes.LastIndexByte(before, '\n') + 1
	return Pos{line, utf8.RuneCount(before[start:]) + 1}
}
