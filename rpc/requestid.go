package rpc

import (
	"context"
	"crypto/rand"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/arcgate/arcgate/upstream"
)

// RequestIDMetadata is the metadata key (and, through the REST gateway,
// the HTTP header X-Request-Id) that carries a call's request id. A caller
// may send one; arcgate returns the id in the response header metadata,
// logs it on the call's log line and sends it upstream in X-Request-Id.
const RequestIDMetadata = "x-request-id"

// maxRequestIDLen is the longest request id accepted from a caller.
const maxRequestIDLen = 128

// validRequestID reports whether a caller's request id is kept: 1 to 128
// bytes of printable ASCII without spaces, so that it is safe in a log
// line and in an HTTP header.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// newRequestID returns a fresh random request id (26 base32 characters,
// 128 bits of randomness).
func newRequestID() string { return rand.Text() }

// requestIDFrom returns the request id of an incoming call: the caller's
// x-request-id metadata when it is valid (the first value), else a new one.
func requestIDFrom(ctx context.Context) string {
	// ValueFromIncomingContext reads the one key; FromIncomingContext would
	// copy all the call's metadata (3 % of a call's CPU in arcgate-bench).
	if ids := metadata.ValueFromIncomingContext(ctx, RequestIDMetadata); len(ids) > 0 && validRequestID(ids[0]) {
		return ids[0]
	}
	return newRequestID()
}

// RequestID returns the request id of the call whose context is ctx, or ""
// outside a call.
func RequestID(ctx context.Context) string { return upstream.RequestID(ctx) }

// withRequestID gives a unary call its request id: it puts it in the
// context, from which the log line and the upstream client read it, and
// the context also gets the call's log slot (see noteCaller). Call
// setRequestIDHeader with that context once the handler has returned.
func withRequestID(ctx context.Context) context.Context {
	return withCallLog(upstream.WithRequestID(ctx, requestIDFrom(ctx)))
}

// setRequestIDHeader returns a unary call's request id in the response
// header metadata. It runs when the handler has returned, so that a call
// waiting on the upstream holds no header metadata (unary headers go out
// with the response or the status anyway).
func setRequestIDHeader(ctx context.Context) {
	// A literal MD: metadata.Pairs lower-cases and copies its keys.
	md := metadata.MD{RequestIDMetadata: {RequestID(ctx)}}
	if st, ok := grpc.ServerTransportStreamFromContext(ctx).(*inProcessStream); ok {
		st.setHeaderOwned(md) // md is fresh: no copy needed
		return
	}
	_ = grpc.SetHeader(ctx, md)
}

// withRequestIDStream is withRequestID for a streaming call.
func withRequestIDStream(ss grpc.ServerStream) grpc.ServerStream {
	id := requestIDFrom(ss.Context())
	_ = ss.SetHeader(metadata.MD{RequestIDMetadata: {id}})
	return &contextStream{ServerStream: ss, ctx: withCallLog(upstream.WithRequestID(ss.Context(), id))}
}

// contextStream is a ServerStream with the context an interceptor derived
// for it (request id, delegated identity).
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

// Context returns the derived context.
func (s *contextStream) Context() context.Context { return s.ctx }

// callLog is what inner interceptors tell the call's log line, which is
// written by an outer one whose context they cannot change.
type callLog struct {
	mu       sync.Mutex
	caller   string
	rejected bool // refused by the Guard, which logs it itself
}

// callLogKey is the context key of the *callLog.
type callLogKey struct{}

// withCallLog returns ctx with a fresh log slot.
func withCallLog(ctx context.Context) context.Context {
	return &callLogContext{Context: ctx}
}

// callLogContext is context.WithValue(ctx, callLogKey{}, &callLog{}) in
// one allocation instead of two.
type callLogContext struct {
	context.Context
	log callLog
}

// Value returns the call's *callLog for callLogKey, else ctx's value.
func (c *callLogContext) Value(key any) any {
	if _, ok := key.(callLogKey); ok {
		return &c.log
	}
	return c.Context.Value(key)
}

// noteCaller records the authenticated caller for the call's log line. The
// authentication interceptor runs inside the logging one, so the caller it
// puts in its context does not reach the log line by itself.
func noteCaller(ctx context.Context, c Caller) {
	if l, ok := ctx.Value(callLogKey{}).(*callLog); ok {
		l.mu.Lock()
		l.caller = c.ID
		l.mu.Unlock()
	}
}

// noteRejected tells the call's log line that the Guard refused the call
// and logged the refusal (rate-limited to one line per interval), so that
// the line goes to Debug level: refused calls cannot flood the log.
func noteRejected(ctx context.Context) {
	if l, ok := ctx.Value(callLogKey{}).(*callLog); ok {
		l.mu.Lock()
		l.rejected = true
		l.mu.Unlock()
	}
}

// rejectedCall reports whether noteRejected was called for the call.
func rejectedCall(ctx context.Context) bool {
	if l, ok := ctx.Value(callLogKey{}).(*callLog); ok {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.rejected
	}
	return false
}

// callerIdentity names the authenticated caller of the call in ctx for the
// call's log line (Caller.ID, never a credential): the Caller in ctx, else
// the one noted by noteCaller, else "" (authentication off, not yet run,
// or it refused the call).
func callerIdentity(ctx context.Context) string {
	if c, ok := CallerFrom(ctx); ok {
		return c.ID
	}
	if l, ok := ctx.Value(callLogKey{}).(*callLog); ok {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.caller
	}
	return ""
}
