package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
)

// route is one registered REST route: its method, path template and the
// registration that adds it.
type route struct{ method, template, group string }

// registeredRoutes lists the routes register adds: those of arcgate's
// services from their HTTP rules, and the ones registered by hand.
func registeredRoutes(t *testing.T) []route {
	t.Helper()
	routes := []route{
		{http.MethodGet, "/openapi.json", "docs"},
		{http.MethodGet, "/docs", "docs"},
		{http.MethodGet, "/docs/{file}", "docs"},
		// operations.RegisterREST
		{http.MethodGet, "/v1/operations", "operations"},
		{http.MethodGet, "/v1/{name=operations/*}", "operations"},
		{http.MethodPost, "/v1/{name=operations/*}:wait", "operations"},
		{http.MethodPost, "/v1/{name=operations/*}:cancel", "operations"},
		{http.MethodDelete, "/v1/{name=operations/*}", "operations"},
	}
	for _, svc := range []string{
		adminv1.ServicesService_ServiceDesc.ServiceName,
		adminv1.ItemInfoService_ServiceDesc.ServiceName,
		adminv1.RolesService_ServiceDesc.ServiceName,
		adminv1.UsageReportsService_ServiceDesc.ServiceName,
		adminv1.JobsService_ServiceDesc.ServiceName,
	} {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
		if err != nil {
			t.Fatal(err)
		}
		methods := d.(protoreflect.ServiceDescriptor).Methods()
		for i := range methods.Len() {
			rule, _ := proto.GetExtension(methods.Get(i).Options(), annotations.E_Http).(*annotations.HttpRule)
			for _, r := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
				method, template := "", ""
				switch p := r.GetPattern().(type) {
				case *annotations.HttpRule_Get:
					method, template = http.MethodGet, p.Get
				case *annotations.HttpRule_Post:
					method, template = http.MethodPost, p.Post
				case *annotations.HttpRule_Put:
					method, template = http.MethodPut, p.Put
				case *annotations.HttpRule_Patch:
					method, template = http.MethodPatch, p.Patch
				case *annotations.HttpRule_Delete:
					method, template = http.MethodDelete, p.Delete
				default:
					t.Fatalf("%s: HTTP rule %v not handled by this test", methods.Get(i).FullName(), r)
				}
				routes = append(routes, route{method, template, svc})
			}
		}
	}
	return routes
}

// segments returns a path template's segments, a variable's as its own
// segments ("*" for a variable without a pattern), and its verb.
func segments(t *testing.T, template string) (segs []string, verb string) {
	t.Helper()
	var b strings.Builder
	for i := 0; i < len(template); i++ {
		switch c := template[i]; c {
		case '{':
			end := strings.IndexByte(template[i:], '}')
			v := template[i+1 : i+end]
			if _, pattern, ok := strings.Cut(v, "="); ok {
				b.WriteString(pattern)
			} else {
				b.WriteString("*")
			}
			i += end
		default:
			b.WriteByte(c)
		}
	}
	path := strings.TrimPrefix(b.String(), "/")
	if i := strings.LastIndexByte(path, ':'); i > strings.LastIndexByte(path, '/') {
		path, verb = path[:i], path[i+1:]
	}
	segs = strings.Split(path, "/")
	for _, s := range segs {
		if s == "**" || strings.ContainsAny(s, ":{}=") {
			t.Fatalf("template %q: segment %q not handled by this test", template, s)
		}
	}
	return segs, verb
}

// mayMatchTheSame reports whether one request path can match both
// templates as grpc-gateway matches them (path unescaped as a whole, a
// template with a verb split off ":verb" at the end of the last segment,
// one without a verb matching the last segment whole).
func mayMatchTheSame(t *testing.T, a, b string) bool {
	t.Helper()
	sa, va := segments(t, a)
	sb, vb := segments(t, b)
	if len(sa) != len(sb) {
		return false
	}
	fits := func(x, y string) bool { return x == y || x == "*" || y == "*" }
	n := len(sa) - 1
	for i := range n {
		if !fits(sa[i], sb[i]) {
			return false
		}
	}
	switch {
	case va == vb:
		return fits(sa[n], sb[n])
	case va == "":
		return sa[n] == "*" // "x:vb" is a whole segment
	case vb == "":
		return sb[n] == "*"
	}
	// Two verbs: a segment can end with both only if one ends the other.
	return strings.HasSuffix(":"+va, ":"+vb) || strings.HasSuffix(":"+vb, ":"+va)
}

// TestRouteOrderChangesNoMatch checks what hotFirst relies on: no request
// path can match two routes of one method added by different
// registrations, so the order of registrations decides no match (the
// verb-only last segment aside, which hotFirst sends to the routes as
// registered). The list of routes is checked against what register adds.
func TestRouteOrderChangesNoMatch(t *testing.T) {
	routes := registeredRoutes(t)
	added := 0
	mux := runtime.NewServeMux(runtime.WithMiddlewares(func(h runtime.HandlerFunc) runtime.HandlerFunc {
		added++
		return h
	}))
	if err := register(context.Background(), mux, noCallConn{}); err != nil {
		t.Fatal(err)
	}
	if added != len(routes) {
		t.Fatalf("register adds %d routes, the test knows %d: add the new ones to registeredRoutes", added, len(routes))
	}
	for i, a := range routes {
		for _, b := range routes[i+1:] {
			if a.method == b.method && a.group != b.group && mayMatchTheSame(t, a.template, b.template) {
				t.Errorf("%s %s (%s) and %s (%s) can match the same path: the order of registrations decides between them",
					a.method, a.template, a.group, b.template, b.group)
			}
		}
	}
}

func TestMayMatchTheSame(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"/v1/{name=services/*}", "/v1/{name=folders/*}", false},
		{"/v1/{name=services/*}", "/v1/services/x", true},
		{"/v1/{name=services/*}", "/v1/{name=services/*}:start", true}, // ".../services/x:start" for both
		{"/v1/services", "/v1/services:batchStart", false},
		{"/v1/{name=services/*/jobs/*}:watch", "/v1/{name=services/*/jobs/*}:cancel", false},
		{"/v1/{role=roles/*}/users", "/v1/{name=roles/*}/data", false},
		{"/v1/{role=roles/*}/users", "/v1/{name=*/*}/users", true},
		{"/docs/{file}", "/docs", false},
	} {
		if got := mayMatchTheSame(t, tc.a, tc.b); got != tc.want {
			t.Errorf("%s, %s: %v, want %v", tc.a, tc.b, got, tc.want)
		}
		if got := mayMatchTheSame(t, tc.b, tc.a); got != tc.want {
			t.Errorf("%s, %s: %v, want %v", tc.b, tc.a, got, tc.want)
		}
	}
}

// TestVerbOnlySegmentAsRegistered checks the one case where the order of
// registrations decides: a last segment that is a colon and a verb of a GET
// route (":watch", ":search") gets a 404 from the first route tried with
// that verb, which grpc-gateway tried before GetService when the services
// were registered first; with the reads tried first, GetService would
// answer these paths.
func TestVerbOnlySegmentAsRegistered(t *testing.T) {
	srv := newTestGateway(t)
	for _, path := range []string{"/v1/services/:watch", "/v1/folders/f/services/:search", "/v1/folders/:byPrivilege"} {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		var st restStatus
		if err := json.Unmarshal(raw, &st); err != nil {
			t.Fatalf("%s: not a JSON status: %s", path, raw)
		}
		if resp.StatusCode != http.StatusNotFound || codes.Code(st.Code) != codes.NotFound || st.reason() != "UNKNOWN_PATH" {
			t.Errorf("GET %s: HTTP %d %s, want 404 UNKNOWN_PATH", path, resp.StatusCode, raw)
		}
	}
}

// TestHotReadsRouteWithoutTries checks that the hot reads are matched by
// the first routes grpc-gateway tries: each route tried in vain costs up
// to two allocations.
func TestHotReadsRouteWithoutTries(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	conn := cannedConn{answers: map[string]proto.Message{
		adminv1.ServicesService_GetService_FullMethodName:  benchService(1),
		adminv1.ItemInfoService_GetItemInfo_FullMethodName: benchItemInfo(),
	}}
	h, err := New(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path     string
		max, was float64
	}{
		// was: with the routes in the order of registration (24 and 22 routes
		// tried first); 77 for GetItemInfo behind the service routes.
		{"/v1/folders/Bulk/services/Bulk_1.MapServer", 70, 105},
		{"/v1/folders/Bulk/services/Bulk_1.MapServer/itemInfo", 70, 96},
	} {
		call := func() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, tc.path, nil))
			if w.Code != http.StatusOK {
				t.Fatalf("HTTP %d: %s", w.Code, w.Body)
			}
		}
		if got := testing.AllocsPerRun(20, call); got > tc.max {
			t.Errorf("GET %s: %v allocations, want at most %v (%v when other routes were tried first)", tc.path, got, tc.max, tc.was)
		}
	}
}
