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

// idempotencyKeyHeader is the HTTP header that carries a mutation's
// request id (AIP-155) when its body has no request_id, and
// idempotencyKeyMetadata its gRPC metadata key (idempotency.MetadataKey);
// replayHeader/replayMetadata mark a response replayed from the first
// outcome of that request id (idempotency.ReplayHeader).
const (
	idempotencyKeyHeader   = "Idempotency-Key"
	idempotencyKeyMetadata = "idempotency-key"
	replayHeader           = "X-Idempotent-Replay"
	replayMetadata         = "x-idempotent-replay"
)

// incomingHeader decides which request headers become gRPC metadata: a
// caller's X-Request-Id travels as x-request-id, its Idempotency-Key as
// idempotency-key, everything else as
// grpc-gateway's default matcher says (permanent HTTP headers with a
// grpcgateway- prefix, Grpc-Metadata-* headers without it).
func incomingHeader(key string) (string, bool) {
	switch textproto.CanonicalMIMEHeaderKey(key) {
	case requestIDHeader:
		return requestIDMetadata, true
	case idempotencyKeyHeader:
		return idempotencyKeyMetadata, true
	}
	return runtime.DefaultHeaderMatcher(key)
}

// outgoingHeader decides how gRPC response header metadata reaches the
// REST caller: x-request-id as X-Request-Id, x-idempotent-replay as
// X-Idempotent-Replay, everything else with
// grpc-gateway's default Grpc-Metadata- prefix.
func outgoingHeader(key string) (string, bool) {
	switch key {
	case requestIDMetadata:
		return requestIDHeader, true
	case replayMetadata:
		return replayHeader, true
	}
	return runtime.MetadataHeaderPrefix + key, true
}
