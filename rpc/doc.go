// Package rpc is everything that runs around every call of arcgate's gRPC
// services, whether it arrives over gRPC or from the REST gateway in
// process: the interceptor chain, caller authentication and the callers
// file, scopes, rate limits, audit, delegation, and the in-process
// transport. The services themselves (package server) know nothing of
// it; rpc does not import them.
//
// # The chain
//
// NewChain builds the one ordered list of interceptors; the gRPC server
// (Chain.ServerOptions) and the REST gateway's connection
// (Chain.InProcess) are both made from it, and so are the tests' servers.
// Outermost first:
//
//  1. metrics (ChainConfig.ObserveUnary/ObserveStream; in process, the
//     tracing interceptors ChainConfig.InProcess* come before them)
//  2. request id and the call's log line: requestid.go, interceptors.go
//  3. panic recovery: interceptors.go (streams), chain.go (unary calls)
//  4. the default deadline of unary calls: chain.go
//  5. the Guard, scopes.go: caller authentication (auth.go, the callers
//     file; apikey.go makes keys), rate limits (ratelimit.go), the
//     method's scope, the open-call cap (concurrency.go; gRPC calls are
//     counted earlier, by Guard.TapHandle), the audit line of mutations
//     (audit.go), the log of refused calls (rejectlog.go)
//  6. delegated upstream identities: identity.go
//
// For a unary call, 2 to 6 and the request ids of mutations (package
// idempotency, innermost) run as one interceptor, unaryCore in chain.go,
// whose stages call each other directly.
//
// Before any of them, on the gRPC server, MalformedRequests (malformed.go)
// answers a request that does not decode INVALID_ARGUMENT.
//
// # The per-call chain of one REST GET
//
// GET /v1/services/X.MapServer passes through these hand-written files
// (and the generated ones named), in order, upstream's aside:
//
//	internal/telemetry/telemetry.go  HTTP tracing (when on)
//	internal/metrics/metrics.go      HTTP metrics
//	gateway/limits.go                body limit (LimitBody)
//	gateway/peer.go                  client address and TLS state (WithPeer)
//	gateway/gateway.go, gateway/headers.go  the grpc-gateway mux and its options
//	gen/go/arcgate/admin/v1/services.pb.gw.go  REST to request message
//	gen/go/arcgate/admin/v1/services_grpc.pb.go  client stub
//	rpc/inprocess.go                 the in-process call
//	internal/telemetry/telemetry.go  in-process tracing (when on)
//	internal/metrics/grpc.go         gRPC metrics
//	rpc/chain.go                     unaryCore: the stages below, in order
//	rpc/interceptors.go, rpc/requestid.go  request id, log line
//	rpc/chain.go                     recovery, deadline
//	rpc/scopes.go, rpc/auth.go, rpc/ratelimit.go, rpc/concurrency.go  the Guard
//	rpc/identity.go                  delegation
//	gen/go/arcgate/admin/v1/services_grpc.pb.go  server handler
//	server/services.go, server/names.go  the service
//	upstream/...                     the upstream client
//	server/convert_services.go       the answer (server/errors.go on error)
//
// # Libraries and hand-written parts
//
// The per-caller rate limiter is golang.org/x/time/rate (one rate.Limiter
// per caller in a bounded map; AllowN with the injected clock's time keeps
// tests free of real time). Panic recovery is go-grpc-middleware's
// recovery interceptor, and delegation is applied to arcgate's own
// methods with its selector. The call log line stays hand-written:
// go-grpc-middleware's logging interceptor chooses a line's level from
// the status code alone, while a call the Guard refused (and logged, at
// most once per interval) must go to Debug level so that a flood of
// refused calls cannot flood the log, and the line names the caller the
// Guard found further in (callLog); its field names would change too. The
// in-process transport is hand-written: grpc-go has no in-process
// connection that runs a server's interceptors without encoding messages.
package rpc
