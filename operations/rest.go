package operations

import (
	"context"
	"errors"
	"io"
	"net/http"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// restRoute is one REST route of the Operations service.
type restRoute struct {
	method, pattern, rpc string
	call                 func(ctx context.Context, c longrunningpb.OperationsClient, m runtime.Marshaler, r *http.Request, name string, opts ...grpc.CallOption) (proto.Message, error)
}

// The REST routes, as Google's APIs bind google.longrunning.Operations.
var restRoutes = []restRoute{
	{http.MethodGet, "/v1/operations", "ListOperations", func(ctx context.Context, c longrunningpb.OperationsClient, _ runtime.Marshaler, r *http.Request, _ string, opts ...grpc.CallOption) (proto.Message, error) {
		req := &longrunningpb.ListOperationsRequest{}
		if err := r.ParseForm(); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "%v", err)
		}
		if err := runtime.PopulateQueryParameters(req, r.Form, utilities.NewDoubleArray(nil)); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "%v", err)
		}
		return c.ListOperations(ctx, req, opts...)
	}},
	{http.MethodGet, "/v1/{name=operations/*}", "GetOperation", func(ctx context.Context, c longrunningpb.OperationsClient, _ runtime.Marshaler, _ *http.Request, name string, opts ...grpc.CallOption) (proto.Message, error) {
		return c.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: name}, opts...)
	}},
	{http.MethodPost, "/v1/{name=operations/*}:wait", "WaitOperation", func(ctx context.Context, c longrunningpb.OperationsClient, m runtime.Marshaler, r *http.Request, name string, opts ...grpc.CallOption) (proto.Message, error) {
		req := &longrunningpb.WaitOperationRequest{}
		if err := m.NewDecoder(r.Body).Decode(req); err != nil && !errors.Is(err, io.EOF) {
			return nil, status.Errorf(codes.InvalidArgument, "%v", err)
		}
		req.Name = name
		return c.WaitOperation(ctx, req, opts...)
	}},
	{http.MethodPost, "/v1/{name=operations/*}:cancel", "CancelOperation", func(ctx context.Context, c longrunningpb.OperationsClient, m runtime.Marshaler, r *http.Request, name string, opts ...grpc.CallOption) (proto.Message, error) {
		req := &longrunningpb.CancelOperationRequest{}
		if err := m.NewDecoder(r.Body).Decode(req); err != nil && !errors.Is(err, io.EOF) {
			return nil, status.Errorf(codes.InvalidArgument, "%v", err)
		}
		req.Name = name
		return c.CancelOperation(ctx, req, opts...)
	}},
	{http.MethodDelete, "/v1/{name=operations/*}", "DeleteOperation", func(ctx context.Context, c longrunningpb.OperationsClient, _ runtime.Marshaler, _ *http.Request, name string, opts ...grpc.CallOption) (proto.Message, error) {
		return c.DeleteOperation(ctx, &longrunningpb.DeleteOperationRequest{Name: name}, opts...)
	}},
}

// RegisterREST adds the REST routes of the Operations service to mux, as
// grpc-gateway's generated handlers do for arcgate's own services, so that
// they get the mux's marshaler, header forwarding and error handler
// (errors are google.rpc.Status JSON):
//
//	GET    /v1/operations?filter=...&pageSize=...&pageToken=...   ListOperations
//	GET    /v1/operations/{id}                                    GetOperation
//	POST   /v1/operations/{id}:wait    body {"timeout": "30s"}    WaitOperation
//	POST   /v1/operations/{id}:cancel                             CancelOperation
//	DELETE /v1/operations/{id}                                    DeleteOperation
//
// client calls the Operations service; pass
// longrunningpb.NewOperationsClient(conn) with the connection the other
// routes use (in process, so that the gRPC interceptors run for REST
// callers too).
func RegisterREST(ctx context.Context, mux *runtime.ServeMux, client longrunningpb.OperationsClient) error {
	for _, rt := range restRoutes {
		err := mux.HandlePath(rt.method, rt.pattern, func(w http.ResponseWriter, r *http.Request, params map[string]string) {
			ctx, cancel := context.WithCancel(r.Context())
			defer cancel()
			inbound, outbound := runtime.MarshalerForRequest(mux, r)
			actx, err := runtime.AnnotateContext(ctx, mux, r, "/google.longrunning.Operations/"+rt.rpc, runtime.WithHTTPPathPattern(rt.pattern))
			if err != nil {
				runtime.HTTPError(ctx, mux, outbound, w, r, err)
				return
			}
			var md runtime.ServerMetadata
			resp, err := rt.call(actx, client, inbound, r, params["name"], grpc.Header(&md.HeaderMD), grpc.Trailer(&md.TrailerMD))
			actx = runtime.NewServerMetadataContext(actx, md)
			if err != nil {
				runtime.HTTPError(actx, mux, outbound, w, r, err)
				return
			}
			runtime.ForwardResponseMessage(actx, mux, outbound, w, r, resp, mux.GetForwardResponseOptions()...)
		})
		if err != nil {
			return err
		}
	}
	return nil
}
