package server

import (
	"go/ast"
	"go/parser"
	"go/token"
	"sort"
	"strings"
	"testing"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
)

// TestReasonsCoverEnum checks that the Reason variables in errors.go are
// derived from the proto enum ErrorReason, one line per enum value: every
// value except UNSPECIFIED has exactly one, and none is a hand-written string.
func TestReasonsCoverEnum(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.VAR {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if !strings.HasPrefix(name.Name, "Reason") {
					continue
				}
				call, ok := vs.Values[i].(*ast.CallExpr)
				if !ok || len(call.Args) != 1 || !isIdent(call.Fun, "reasonName") {
					t.Errorf("%s is not reasonName(adminv1.ErrorReason_...)", name.Name)
					continue
				}
				sel, ok := call.Args[0].(*ast.SelectorExpr)
				if !ok || !isIdent(sel.X, "adminv1") {
					t.Errorf("%s is not reasonName(adminv1.ErrorReason_...)", name.Name)
					continue
				}
				seen[strings.TrimPrefix(sel.Sel.Name, "ErrorReason_")]++
			}
		}
	}
	var missing []string
	for _, n := range adminv1.ErrorReason_name {
		if n == "ERROR_REASON_UNSPECIFIED" {
			continue
		}
		switch seen[n] {
		case 0:
			missing = append(missing, n)
		case 1:
		default:
			t.Errorf("%s has %d Reason variables, want one", n, seen[n])
		}
	}
	sort.Strings(missing)
	for _, n := range missing {
		t.Errorf("enum value %s has no Reason variable in errors.go", n)
	}
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

// TestReasonWireNames pins the derivation: a reason is the enum value name
// without its prefix, and the domain is the proto package.
func TestReasonWireNames(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{ReasonNotFound, "NOT_FOUND"},
		{ReasonResponseTooLarge, "UPSTREAM_RESPONSE_TOO_LARGE"},
		{ReasonShuttingDown, "SHUTTING_DOWN"},
		{ErrorDomain, "arcgate.admin.v1"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
