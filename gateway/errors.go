package gateway

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/arcgate/arcgate/apierr"
	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
)

// ErrorInfo reasons of the gateway's own errors (apierr.Reason).
var (
	reasonInvalidArgument  = apierr.Reason(adminv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT)
	reasonUnknownPath      = apierr.Reason(adminv1.ErrorReason_ERROR_REASON_UNKNOWN_PATH)
	reasonMethodNotAllowed = apierr.Reason(adminv1.ErrorReason_ERROR_REASON_METHOD_NOT_ALLOWED)
)

// docsPath is where the API reference is served.
const docsPath = "/docs"

// probeMethods are the HTTP methods tried when computing an Allow header.
var probeMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// routeIndex answers which HTTP methods a path has. It is a second
// ServeMux holding the same routes as the real one (registered by the same
// generated code), whose handlers only note that they matched, so the
// answer uses grpc-gateway's own path matching.
type routeIndex struct {
	mux *runtime.ServeMux
}

// routeProbe is the ResponseWriter of a probe request; the probe mux's
// handlers set matched instead of answering.
type routeProbe struct {
	http.ResponseWriter // nil: never written
	matched             bool
}

func newRouteIndex() *routeIndex {
	return &routeIndex{mux: runtime.NewServeMux(
		runtime.WithMiddlewares(func(runtime.HandlerFunc) runtime.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request, _ map[string]string) {
				if p, ok := w.(*routeProbe); ok {
					p.matched = true
				}
			}
		}),
		runtime.WithRoutingErrorHandler(func(context.Context, *runtime.ServeMux, runtime.Marshaler, http.ResponseWriter, *http.Request, int) {
		}),
		runtime.WithErrorHandler(func(context.Context, *runtime.ServeMux, runtime.Marshaler, http.ResponseWriter, *http.Request, error) {
		}),
		runtime.WithDisableHTTPMethodOverride(),
		runtime.WithDisablePathLengthFallback(),
	)}
}

// allowed returns the methods whose routes match r's path, in
// probeMethods order.
func (ix *routeIndex) allowed(r *http.Request) []string {
	var allow []string
	for _, m := range probeMethods {
		probe := r.Clone(r.Context())
		probe.Method, probe.Header, probe.Body = m, http.Header{}, http.NoBody
		w := &routeProbe{}
		ix.mux.ServeHTTP(w, probe)
		if w.matched {
			allow = append(allow, m)
		}
	}
	return allow
}

// routingErrorHandler answers requests that match no route: 404 pointing
// to /docs for an unknown path, 405 with an Allow header for a known path
// and another method, both as google.rpc.Status with an ErrorInfo.
func routingErrorHandler(ix *routeIndex) runtime.RoutingErrorHandlerFunc {
	return func(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
		var st *status.Status
		switch httpStatus {
		case http.StatusMethodNotAllowed:
			if allow := ix.allowed(r); len(allow) > 0 {
				list := strings.Join(allow, ", ")
				w.Header().Set("Allow", list)
				st = withInfo(status.New(codes.Unimplemented, r.Method+" is not allowed on "+r.URL.Path+"; allowed: "+list+" (API reference: "+docsPath+")"),
					reasonMethodNotAllowed, map[string]string{"allow": list})
				break
			}
			httpStatus = http.StatusNotFound
			fallthrough
		case http.StatusNotFound:
			st = withInfo(status.New(codes.NotFound, "no REST route for "+r.Method+" "+r.URL.Path+"; the API reference is at "+docsPath),
				reasonUnknownPath, map[string]string{"path": r.URL.Path})
		default:
			st = withInfo(status.New(codes.InvalidArgument, http.StatusText(httpStatus)+" (API reference: "+docsPath+")"), reasonInvalidArgument, nil)
		}
		runtime.HTTPError(ctx, mux, m, w, r, &runtime.HTTPStatusError{HTTPStatus: httpStatus, Err: st.Err()})
	}
}

// withInfo is st with an ErrorInfo detail of reason (apierr.NewStatus).
func withInfo(st *status.Status, reason string, md map[string]string) *status.Status {
	return apierr.NewStatus(st.Code(), reason, st.Message(), md)
}

// requestErrorRE matches the message of a requestError after grpc-gateway
// wrapped it in a status ("%v"): where, the quoted field path, the problem.
var requestErrorRE = regexp.MustCompile(`(?s)^invalid (request body|query parameter|path parameter): field ("(?:[^"\\]|\\.)*"): (.+)$`)

// pathTypeMismatchRE matches grpc-gateway's error for a path parameter
// that does not convert to its field's type.
var pathTypeMismatchRE = regexp.MustCompile(`(?s)^type mismatch, parameter: ([A-Za-z0-9_.]+), error: (.+)$`)

// readableErrors returns an error handler that turns the errors
// grpc-gateway makes itself while decoding a request (INVALID_ARGUMENT
// with only a message) into arcgate's shape: a message "field: problem",
// a google.rpc.BadRequest naming the field (its proto path in the request
// message) and an ErrorInfo (reason INVALID_ARGUMENT), as the server's
// own validation errors are. Other INVALID_ARGUMENT errors without
// details get an ErrorInfo; everything else goes to next unchanged.
func readableErrors(next runtime.ErrorHandlerFunc) runtime.ErrorHandlerFunc {
	return func(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
		if st, ok := status.FromError(err); ok && st.Code() == codes.InvalidArgument && len(st.Details()) == 0 {
			if field, desc, ok := frameworkFieldError(ctx, st.Message()); ok {
				err = fieldStatus(field, desc).Err()
			} else {
				err = withInfo(st, reasonInvalidArgument, nil).Err()
			}
		}
		next(ctx, mux, m, w, r, err)
	}
}

// frameworkFieldError recognises a requestError or a path parameter type
// mismatch in msg and returns the field's path in the request message.
func frameworkFieldError(ctx context.Context, msg string) (field, desc string, ok bool) {
	if sm := requestErrorRE.FindStringSubmatch(msg); sm != nil {
		f, err := strconv.Unquote(sm[2])
		if err != nil {
			return "", "", false
		}
		if sm[1] == "request body" {
			f = bodyFieldPath(ctx, f)
		}
		if f == "" {
			return "", sm[1] + ": " + sm[3], true
		}
		return f, sm[3], true
	}
	if sm := pathTypeMismatchRE.FindStringSubmatch(msg); sm != nil {
		return sm[1], "path parameter: " + sm[2], true
	}
	return "", "", false
}

// bodyFieldPath prefixes a path within the request body with the body
// field of the method's HTTP rule (e.g. "service" for UpdateService), so
// that it names the field in the request message.
func bodyFieldPath(ctx context.Context, f string) string {
	method, ok := runtime.RPCMethod(ctx)
	if !ok {
		return f
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(strings.ReplaceAll(strings.TrimPrefix(method, "/"), "/", ".")))
	if err != nil {
		return f
	}
	md, ok := d.(protoreflect.MethodDescriptor)
	if !ok {
		return f
	}
	rule, _ := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
	body := rule.GetBody()
	if body == "" || body == "*" {
		return f
	}
	if f == "" {
		return body
	}
	return body + "." + f
}

// fieldStatus is INVALID_ARGUMENT naming field, in the server's shape
// (apierr.InvalidArgument; without a field, an ErrorInfo only).
func fieldStatus(field, desc string) *status.Status {
	if field == "" {
		return apierr.NewStatus(codes.InvalidArgument, reasonInvalidArgument, desc, nil)
	}
	return status.Convert(apierr.InvalidArgument(field, desc))
}

// statusNotFound is a NOT_FOUND status with msg.
func statusNotFound(msg string) *status.Status { return status.New(codes.NotFound, msg) }
