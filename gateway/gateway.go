// Package gateway serves arcgate's REST API: grpc-gateway handlers that
// translate REST calls into calls of arcgate's own gRPC server, dialled
// through a client connection so that every gRPC interceptor (logging,
// deadlines, and later authentication) runs for REST callers too.
package gateway

import (
	"context"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/encoding/protojson"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
)

// New returns the REST handler for arcgate's API, calling the gRPC server
// behind conn. It also serves /healthz, answered by the gRPC health service,
// and the OpenAPI v2 document at /openapi.json.
func New(ctx context.Context, conn *grpc.ClientConn) (http.Handler, error) {
	mux := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.JSONPb{
			MarshalOptions: protojson.MarshalOptions{
				EmitUnpopulated: true, // stable shapes: zero values are written
				UseProtoNames:   false,
			},
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
		}),
		runtime.WithHealthzEndpoint(grpc_health_v1.NewHealthClient(conn)),
	)
	if err := mux.HandlePath(http.MethodGet, "/openapi.json", serveOpenAPI); err != nil {
		return nil, err
	}
	for _, register := range []func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error{
		adminv1.RegisterServicesServiceHandler,
	} {
		if err := register(ctx, mux, conn); err != nil {
			return nil, err
		}
	}
	return mux, nil
}
