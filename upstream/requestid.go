package upstream

import "context"

// RequestIDHeader is the HTTP header that carries a request id to the
// upstream, so that upstream logs and arcgate's can be correlated.
const RequestIDHeader = "X-Request-Id"

// requestIDKey is the context key of the request id.
type requestIDKey struct{}

// WithRequestID returns a copy of ctx carrying the request id id; every
// upstream request made with that context sends it in the X-Request-Id
// header. An empty id adds nothing. An id longer than 128 bytes or holding
// anything but printable ASCII is never sent (arcgate's server layer
// accepts only such ids from callers, else it makes its own).
func WithRequestID(ctx context.Context, id string) context.Context {
	if id == "" {
		return ctx
	}
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id carried by ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// maxRequestIDLen is the longest request id sent upstream.
const maxRequestIDLen = 128

// requestIDOf returns the request id of ctx if there is one fit for a
// header (send sets it in the X-Request-Id header).
func requestIDOf(ctx context.Context) (string, bool) {
	id := RequestID(ctx)
	if id == "" || len(id) > maxRequestIDLen {
		return "", false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return "", false
		}
	}
	return id, true
}
