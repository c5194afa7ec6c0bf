package e2e

import (
	"net/http"
	"testing"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"

	"github.com/arcgate/arcgate/simulator"
)

// TestOperationsServed: the standard google.longrunning.Operations service
// is wired into the App over gRPC and REST, behind the Guard (which would
// refuse it, for want of a scope, were its scopes not merged).
func TestOperationsServed(t *testing.T) {
	e := start(t, simulator.Config{})
	ops := longrunningpb.NewOperationsClient(e.conn)
	const unknown = "operations/00000000-0000-4000-8000-000000000000"
	_, err := ops.GetOperation(ctx(t), &longrunningpb.GetOperationRequest{Name: unknown})
	wantCode(t, err, codes.NotFound)
	r := e.do(t, http.MethodGet, "/v1/"+unknown, nil)
	restError(t, r, http.StatusNotFound, codes.NotFound)
	list, err := ops.ListOperations(ctx(t), &longrunningpb.ListOperationsRequest{})
	if err != nil || len(list.GetOperations()) != 0 {
		t.Fatalf("ListOperations: %v %v", list, err)
	}
	if r := e.do(t, http.MethodGet, "/v1/operations", nil); r.Status != http.StatusOK {
		t.Fatalf("GET /v1/operations: %d %s", r.Status, r.Raw)
	}
}
