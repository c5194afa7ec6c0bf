package gateway

import (
	"net/textproto"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"

	"github.com/arcgate/arcgate/rpc"
)

// requestIDHeader is the HTTP header of a call's request id, and
// requestIDMetadata its gRPC metadata key.
const (
	requestIDHeader   = "X-Request-Id"
	requestIDMetadata = rpc.RequestIDMetadata
)

// incomingHeader decides which request headers become gRPC metadata: a
// caller's X-Request-Id travels as x-request-id, everything else as
// grpc-gateway's default matcher says (permanent HTTP headers with a
// grpcgateway- prefix, Grpc-Metadata-* headers without it).
func incomingHeader(key string) (string, bool) {
	if textproto.CanonicalMIMEHeaderKey(key) == requestIDHeader {
		return requestIDMetadata, true
	}
	return runtime.DefaultHeaderMatcher(key)
}

// outgoingHeader decides how gRPC response header metadata reaches the
// REST caller: x-request-id as X-Request-Id, everything else with
// grpc-gateway's default Grpc-Metadata- prefix.
func outgoingHeader(key string) (string, bool) {
	if key == requestIDMetadata {
		return requestIDHeader, true
	}
	return runtime.MetadataHeaderPrefix + key, true
}
