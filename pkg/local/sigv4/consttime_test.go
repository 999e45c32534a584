package sigv4

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"strings"
	"testing"
)

// secretish names what a timing side channel would leak: signatures, MACs,
// digests.
var secretish = regexp.MustCompile(`(?i)sig|signature|mac|hash|sum|digest|want|seed|prev`)

// TestSignaturesAreComparedInConstantTime guards "every signature comparison
// is constant-time" where no timing test could (timings are noise here): no
// == or != in the package's code compares two computed values whose names
// say signature, MAC or digest. Such comparisons go through hashEqual
// (crypto/hmac.Equal). Comparisons with a literal, nil or a length are not
// secret-dependent and are allowed.
func TestSignaturesAreComparedInConstantTime(t *testing.T) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			b, ok := n.(*ast.BinaryExpr)
			if !ok || (b.Op != token.EQL && b.Op != token.NEQ) {
				return true
			}
			checked++
			if harmless(b.X) || harmless(b.Y) {
				return true
			}
			if mentions(b.X) || mentions(b.Y) {
				t.Errorf("%s: %s compared with %s: use hashEqual (constant time)", fset.Position(b.Pos()), b.Op, exprString(b))
			}
			return true
		})
	}
	if checked == 0 {
		t.Fatal("no comparison found: the check reads nothing")
	}
}

// harmless: a literal, nil, a constant-looking name or a length.
func harmless(e ast.Expr) bool {
	switch x := e.(type) {
	case *ast.BasicLit:
		return true
	case *ast.Ident:
		return x.Name == "nil" || x.Name == "true" || x.Name == "false" || (x.Name != "" && x.Name[0] >= 'A' && x.Name[0] <= 'Z')
	case *ast.CallExpr:
		if id, ok := x.Fun.(*ast.Ident); ok && (id.Name == "len" || id.Name == "cap") {
			return true
		}
	}
	return false
}

func mentions(e ast.Expr) bool {
	found := false
	ast.Inspect(e, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && secretish.MatchString(id.Name) {
			found = true
		}
		return !found
	})
	return found
}

func exprString(b *ast.BinaryExpr) string {
	var names []string
	ast.Inspect(b, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok {
			names = append(names, id.Name)
		}
		return true
	})
	return strings.Join(names, " ")
}
