package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// done returns a function that takes what a method returning a
// long-running operation returned, waits for the operation
// (WaitOperation) and returns its response unpacked into a T, or the error
// it ended with as a gRPC status error: what the method returned before
// it returned an Operation. Use: done[adminv1.Service](c, conn)(client.StartService(c, req)).
func done[T any, PT interface {
	*T
	proto.Message
}](c context.Context, conn grpc.ClientConnInterface) func(*longrunningpb.Operation, error) (PT, error) {
	return func(op *longrunningpb.Operation, err error) (PT, error) {
		if err != nil {
			return nil, err
		}
		op, err = waitDone(c, conn, op)
		if err != nil {
			return nil, err
		}
		if e := op.GetError(); e != nil {
			return nil, status.ErrorProto(e)
		}
		out := PT(new(T))
		if err := op.GetResponse().UnmarshalTo(out); err != nil {
			return nil, err
		}
		return out, nil
	}
}

// waitDone waits for op to be done.
func waitDone(c context.Context, conn grpc.ClientConnInterface, op *longrunningpb.Operation) (*longrunningpb.Operation, error) {
	ops := longrunningpb.NewOperationsClient(conn)
	for !op.GetDone() {
		var err error
		op, err = ops.WaitOperation(c, &longrunningpb.WaitOperationRequest{Name: op.GetName(), Timeout: durationpb.New(10 * time.Second)})
		if err != nil {
			return nil, err
		}
	}
	return op, nil
}

// doOp is do for a method that returns a long-running operation: it waits
// for the operation over REST (POST /v1/operations/{id}:wait) and returns
// what the method answered before it returned an operation: the
// operation's response with 200, or its error with the error's HTTP
// status. Other answers (errors of the call itself) are returned as is.
func (e *env) doOp(t *testing.T, method, path string, body any) restResp {
	t.Helper()
	r := e.do(t, method, path, body)
	name, _ := r.Body["name"].(string)
	if r.Status != http.StatusOK || !strings.HasPrefix(name, "operations/") {
		return r
	}
	for i := 0; r.Body["done"] != true; i++ {
		if i == 10 {
			t.Fatalf("operation %s not done", name)
		}
		r = e.do(t, http.MethodPost, "/v1/"+name+":wait", map[string]any{"timeout": "10s"})
		if r.Status != http.StatusOK {
			t.Fatalf("POST /v1/%s:wait: %d %s", name, r.Status, r.Raw)
		}
	}
	if er, ok := r.Body["error"].(map[string]any); ok {
		raw, _ := json.Marshal(er)
		c, _ := er["code"].(float64)
		return restResp{Status: runtime.HTTPStatusFromCode(codes.Code(c)), Body: er, Raw: string(raw)}
	}
	resp, _ := r.Body["response"].(map[string]any)
	raw, _ := json.Marshal(resp)
	return restResp{Status: http.StatusOK, Body: resp, Raw: string(raw)}
}

// waitAllOps waits for every operation arcgate lists to be done, and fails
// the test if one ended with an error.
func waitAllOps(t *testing.T, c context.Context, conn grpc.ClientConnInterface) {
	t.Helper()
	ops := longrunningpb.NewOperationsClient(conn)
	req := &longrunningpb.ListOperationsRequest{PageSize: 100}
	for {
		page, err := ops.ListOperations(c, req)
		if err != nil {
			t.Fatal(err)
		}
		for _, op := range page.GetOperations() {
			op, err := waitDone(c, conn, op)
			if err != nil {
				t.Fatal(err)
			}
			if op.GetError() != nil {
				t.Errorf("operation %s: %v", op.GetName(), op.GetError())
			}
		}
		if page.GetNextPageToken() == "" {
			return
		}
		req.PageToken = page.GetNextPageToken()
	}
}
