package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/arcgate/arcgate/apierr"
	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/rpc"
)

// DefaultMaxBodyBytes is the largest REST request body accepted: 4 MiB,
// grpc-go's default receive limit, so that a body that passes here also
// fits the gRPC message limit (JSON is larger than its protobuf form).
const DefaultMaxBodyBytes = 4 << 20

// DefaultMaxHeaderBytes is the default bound on a call's headers: REST
// request headers (http.Server.MaxHeaderBytes) and gRPC metadata
// (grpc.MaxHeaderListSize) alike, 64 KiB.
const DefaultMaxHeaderBytes = 64 << 10

// reasonRequestTooLarge is the ErrorInfo reason of a refused body.
var reasonRequestTooLarge = apierr.Reason(adminv1.ErrorReason_ERROR_REASON_REQUEST_TOO_LARGE)

// LimitBody wraps h so that a request body larger than max bytes is
// refused before anything decodes it: HTTP 413 with a google.rpc.Status
// JSON body (code RESOURCE_EXHAUSTED, ErrorInfo reason REQUEST_TOO_LARGE).
// A declared Content-Length over max is refused at once; a body of unknown
// length (chunked) is read up to max first, so the JSON decoder never sees
// more than max bytes.
func LimitBody(h http.Handler, max int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			h.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > max {
			writeTooLarge(w, max)
			return
		}
		if r.ContentLength < 0 {
			data, err := io.ReadAll(io.LimitReader(r.Body, max+1))
			_ = r.Body.Close()
			if err != nil {
				writeStatus(w, http.StatusBadRequest, status.New(codes.InvalidArgument, "reading the request body failed"))
				return
			}
			if int64(len(data)) > max {
				writeTooLarge(w, max)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(data))
			r.ContentLength = int64(len(data))
			h.ServeHTTP(w, r)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		h.ServeHTTP(w, r)
	})
}

// writeTooLarge writes the 413 answer.
func writeTooLarge(w http.ResponseWriter, max int64) {
	st := apierr.NewStatus(codes.ResourceExhausted, reasonRequestTooLarge, "request body larger than "+strconv.FormatInt(max, 10)+" bytes",
		map[string]string{"limitBytes": strconv.FormatInt(max, 10)})
	w.Header().Set("Connection", "close") // the rest of the body is not read
	writeStatus(w, http.StatusRequestEntityTooLarge, st)
}

// writeStatus writes st as JSON with the given HTTP status, in the shape
// of grpc-gateway's own errors.
func writeStatus(w http.ResponseWriter, code int, st *status.Status) {
	body, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(st.Proto())
	if err != nil {
		body = []byte(`{"code":8,"message":"request body too large","details":[]}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// apiKeyHeader is the HTTP header (and gRPC metadata key, lower-cased)
// carrying a caller's API key.
const apiKeyHeader = "X-Api-Key"

// ForwardAPIKey returns a header matcher that forwards a caller's
// X-Api-Key header as the gRPC metadata "x-api-key" (rpc.MetadataAPIKey, where arcgate's
// caller authentication reads it) and asks next about every other header
// (runtime.DefaultHeaderMatcher when next is nil). Authorization needs no
// matcher: grpc-gateway always forwards it as "authorization". Combine it
// with other matchers by passing them as next:
//
//	runtime.WithIncomingHeaderMatcher(gateway.ForwardAPIKey(incomingHeader))
func ForwardAPIKey(next runtime.HeaderMatcherFunc) runtime.HeaderMatcherFunc {
	if next == nil {
		next = runtime.DefaultHeaderMatcher
	}
	return func(key string) (string, bool) {
		if textproto.CanonicalMIMEHeaderKey(key) == apiKeyHeader {
			return rpc.MetadataAPIKey, true
		}
		return next(key)
	}
}

// RetryAfterErrorHandler returns a grpc-gateway error handler that adds a
// Retry-After header (whole seconds, rounded up) to error answers whose
// status carries a google.rpc.RetryInfo detail (arcgate's rate limit and
// circuit breaker errors), then lets next (runtime.DefaultHTTPErrorHandler
// when nil) write the answer.
func RetryAfterErrorHandler(next runtime.ErrorHandlerFunc) runtime.ErrorHandlerFunc {
	if next == nil {
		next = runtime.DefaultHTTPErrorHandler
	}
	return func(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
		if d, ok := retryDelay(err); ok {
			secs := int64((d + time.Second - 1) / time.Second)
			w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		}
		next(ctx, mux, m, w, r, err)
	}
}

// retryDelay returns the RetryInfo delay of a status error.
func retryDelay(err error) (time.Duration, bool) {
	var se interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &se) {
		return 0, false
	}
	for _, d := range se.GRPCStatus().Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			return max(ri.GetRetryDelay().AsDuration(), 0), true
		}
	}
	return 0, false
}
