package rpc

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
)

// TestEveryMethodHasAScope walks every method of every arcgate service in
// the proto registry: each must declare (arcgate.admin.v1.required_scope),
// and a method with side effects (not idempotency_level = NO_SIDE_EFFECTS)
// must need at least SCOPE_WRITE.
func TestEveryMethodHasAScope(t *testing.T) {
	n := 0
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), apiPackagePrefix) {
			return true
		}
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			for j := 0; j < sd.Methods().Len(); j++ {
				md := sd.Methods().Get(j)
				n++
				s := requiredScope(md)
				if s == adminv1.Scope_SCOPE_UNSPECIFIED {
					t.Errorf("%s (%s) declares no (arcgate.admin.v1.required_scope): add option (required_scope) = SCOPE_READ|SCOPE_WRITE|SCOPE_ADMIN", md.FullName(), fd.Path())
					continue
				}
				opts, _ := md.Options().(*descriptorpb.MethodOptions)
				readOnly := opts.GetIdempotencyLevel() == descriptorpb.MethodOptions_NO_SIDE_EFFECTS
				if !readOnly && s == adminv1.Scope_SCOPE_READ {
					t.Errorf("%s has side effects (no idempotency_level = NO_SIDE_EFFECTS) but only needs SCOPE_READ", md.FullName())
				}
			}
		}
		return true
	})
	if n == 0 {
		t.Fatal("no arcgate methods in the proto registry")
	}
	scopes := MethodScopes()
	if len(scopes) != n {
		t.Fatalf("MethodScopes has %d methods, the registry %d", len(scopes), n)
	}
	for m, want := range map[string]adminv1.Scope{
		"/arcgate.admin.v1.ServicesService/GetService":   adminv1.Scope_SCOPE_READ,
		"/arcgate.admin.v1.ServicesService/ListFolders":  adminv1.Scope_SCOPE_READ,
		"/arcgate.admin.v1.ServicesService/StartService": adminv1.Scope_SCOPE_WRITE,
		"/arcgate.admin.v1.ServicesService/DeleteFolder": adminv1.Scope_SCOPE_WRITE,
	} {
		if scopes[m] != want {
			t.Errorf("MethodScopes()[%q] = %v, want %v", m, scopes[m], want)
		}
	}
}

func TestGuardRules(t *testing.T) {
	g, err := NewGuard(GuardConfig{InsecureNoCallerAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method string
		want   methodRule
	}{
		{"/arcgate.admin.v1.ServicesService/GetService", methodRule{access: accessScoped, scope: adminv1.Scope_SCOPE_READ}},
		{"/arcgate.admin.v1.ServicesService/StartService", methodRule{access: accessScoped, scope: adminv1.Scope_SCOPE_WRITE}},
		{"/grpc.health.v1.Health/Check", methodRule{access: accessPublic}},
		{"/grpc.health.v1.Health/Watch", methodRule{access: accessPublic}},
		{"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", methodRule{access: accessAuthenticated}},
		{"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", methodRule{access: accessAuthenticated}},
		// Anything else is refused, even in insecure mode: a service
		// registered without scopes cannot be called.
		{"/other.v1.Thing/Do", methodRule{access: accessDenied}},
		{"/grpc.health.v1.HealthX/Check", methodRule{access: accessDenied}},
	} {
		if got := g.rule(tc.method); got != tc.want {
			t.Errorf("rule(%q) = %+v, want %+v", tc.method, got, tc.want)
		}
	}
	if !(methodRule{access: accessScoped, scope: adminv1.Scope_SCOPE_ADMIN}).mutation() ||
		(methodRule{access: accessScoped, scope: adminv1.Scope_SCOPE_READ}).mutation() {
		t.Error("mutation() must be true for write and admin methods only")
	}
}

func TestCallerHas(t *testing.T) {
	for _, tc := range []struct {
		have, need adminv1.Scope
		ok         bool
	}{
		{adminv1.Scope_SCOPE_READ, adminv1.Scope_SCOPE_READ, true},
		{adminv1.Scope_SCOPE_READ, adminv1.Scope_SCOPE_WRITE, false},
		{adminv1.Scope_SCOPE_WRITE, adminv1.Scope_SCOPE_READ, true},
		{adminv1.Scope_SCOPE_WRITE, adminv1.Scope_SCOPE_ADMIN, false},
		{adminv1.Scope_SCOPE_ADMIN, adminv1.Scope_SCOPE_WRITE, true},
		{adminv1.Scope_SCOPE_ADMIN, adminv1.Scope_SCOPE_UNSPECIFIED, false},
	} {
		if got := (Caller{Scope: tc.have}).Has(tc.need); got != tc.ok {
			t.Errorf("%v.Has(%v) = %v, want %v", tc.have, tc.need, got, tc.ok)
		}
	}
}
