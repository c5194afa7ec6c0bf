// Package depcheck holds a test that enforces arcgate's dependency
// direction: cmd → internal/app → gateway, server → rpc → upstream, with
// apierr and the generated API as leaves, the other internal packages as
// leaves that import nothing above them, and the simulator standing alone, so that a wrong import edge fails the build's tests. It also
// checks that citations of docs/upstream.md name headings that exist
// (docs_test.go).
package depcheck

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const module = "github.com/arcgate/arcgate"

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// rule forbids packages under from (but those under skip) to depend
// (directly when direct is set, else transitively) on any import path
// with one of the banned prefixes.
type rule struct {
	from   string
	skip   []string
	direct bool
	banned []string
	why    string
}

var rules = []rule{
	{from: module + "/upstream", banned: []string{"google.golang.org/grpc", "google.golang.org/genproto", module + "/server", module + "/gateway", module + "/simulator", module + "/gen", module + "/cmd"},
		why: "upstream is the REST client of the admin API: it knows nothing of gRPC or of the layers above it"},
	{from: module + "/simulator", banned: []string{module + "/upstream", module + "/server", module + "/gateway", module + "/gen", module + "/cmd", "google.golang.org/grpc"},
		why: "the simulator shares no code with the client, so a misreading of the wire shows up as a failing test"},
	{from: module + "/server", banned: []string{module + "/gateway", module + "/simulator", module + "/cmd"},
		why: "server depends only on upstream, statestore and the generated API"},
	{from: module + "/server", direct: true, banned: []string{"net/http", "net/url"},
		why: "server knows nothing of upstream HTTP details"},
	{from: module + "/gateway", banned: []string{module + "/simulator", module + "/server", module + "/cmd"},
		why: "the gateway only translates REST into calls of arcgate's own gRPC server; it takes names from rpc, never server"},
	{from: module + "/gateway", direct: true, banned: []string{module + "/upstream"},
		why: "the gateway only translates REST into calls of arcgate's own gRPC server (it reaches upstream only through rpc's names)"},
	{from: module + "/statestore", banned: []string{module + "/server", module + "/gateway", module + "/internal", module + "/upstream", module + "/simulator", module + "/gen", module + "/cmd"},
		why: "the state store (locks shared by calls, later by replicas) is a leaf below server: it knows nothing of the layers that use it"},
	{from: module + "/server", banned: []string{module + "/internal"},
		why: "internal/ holds the wiring above server (app) and its tests; server imports nothing there"},
	{from: module + "/gateway", banned: []string{module + "/internal"},
		why: "internal/ holds the wiring above the gateway (app) and its tests; the gateway imports nothing there"},
	{from: module + "/upstream", banned: []string{module + "/internal", module + "/rpc", module + "/apierr"},
		why: "upstream is the bottom layer: nothing of arcgate's above it"},
	{from: module + "/rpc", banned: []string{module + "/server", module + "/gateway", module + "/internal", module + "/simulator", module + "/cmd"},
		why: "rpc runs around every call and knows nothing of the services it wraps, of the gateway or of the wiring (metrics and tracing come in through ChainConfig)"},
	{from: module + "/apierr", banned: []string{module + "/upstream", module + "/rpc", module + "/server", module + "/gateway", module + "/internal", module + "/statestore", module + "/simulator", module + "/cmd"},
		why: "apierr is a leaf that server, rpc and the gateway share: it depends on the generated API only"},
	{from: module + "/internal", skip: []string{module + "/internal/app", module + "/internal/e2e", module + "/internal/depcheck"},
		banned: []string{module + "/internal/app", module + "/server", module + "/rpc", module + "/gateway", module + "/simulator"},
		why:    "the packages under internal/ other than app (the wiring) and the tests are leaves: imports do not run back up to the layers"},
	{from: module + "/operations", banned: []string{module + "/server", module + "/gateway", module + "/internal", module + "/upstream", module + "/simulator", module + "/cmd"},
		why: "long-running operations sit beside server: they run work the server hands them and know nothing of the layers around them"},
	{from: module + "/gen", banned: []string{module + "/upstream", module + "/server", module + "/gateway", module + "/simulator", module + "/cmd"},
		why: "generated code depends on nothing of ours"},
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps=false", "-json", module+"/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

// under reports whether import path p is prefix or below it.
func under(p, prefix string) bool { return p == prefix || strings.HasPrefix(p, prefix+"/") }

func TestDependencyDirection(t *testing.T) {
	pkgs := listPackages(t)
	checked := map[string]bool{}
	for _, p := range pkgs {
		for _, r := range rules {
			if !under(p.ImportPath, r.from) || slices.ContainsFunc(r.skip, func(s string) bool { return under(p.ImportPath, s) }) {
				continue
			}
			checked[r.from] = true
			edges := p.Deps
			if r.direct {
				edges = p.Imports
			}
			for _, d := range edges {
				for _, b := range r.banned {
					if under(d, b) {
						t.Errorf("%s imports %s: %s", p.ImportPath, d, r.why)
					}
				}
			}
		}
	}
	for _, r := range rules {
		if !checked[r.from] {
			t.Errorf("rule for %s matched no package: is the layout still as the rules say?", r.from)
		}
	}
	for _, p := range pkgs {
		for _, d := range p.Deps {
			if strings.HasPrefix(d, module+"/cmd") {
				t.Errorf("%s imports %s: nothing may import a command", p.ImportPath, d)
			}
		}
	}
}
