// Package gateway serves arcgate's REST API: grpc-gateway handlers that
// translate REST calls into calls of arcgate's own gRPC services, made in
// process through rpc.InProcess so that every gRPC interceptor
// (logging, deadlines, caller authentication, scopes, rate limits) runs
// for REST callers too.
//
// One custom encoder, paid for by its figures: fastJSON (fastjson.go)
// writes GetService, ListServices and GetItemInfo answers without
// protojson's reflection, byte for byte the same JSON
// (TestFastJSONMatchesProtojson, TestFastJSONItemInfoMatchesProtojson),
// and leaves every other message, and anything unusual, to protojson.
// BenchmarkMarshalListServices, 20 services: protojson 202 µs and 162
// allocations, fastJSON 26 µs and 1; arcgate-bench on distinct reads
// (ListServices over 100 folders, 2-CPU VM), REST CPU per call 255–269 →
// 167–185 µs together with the listing decode of package upstream.
// BenchmarkMarshalItemInfo: protojson 9.5 µs and 30 allocations, fastJSON
// 1.8 µs and 1.
package gateway

import (
	"context"
	"net/http"
	"net/textproto"
	"strings"
	"sync"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/operations"
	"github.com/arcgate/arcgate/rpc"
)

// New returns the REST handler for arcgate's API, calling the gRPC
// services through conn (rpc.InProcess, which calls them in process, or
// a connection to the gRPC server). It also serves /healthz, answered by
// the gRPC health service, the OpenAPI v2 document at /openapi.json and an
// API reference rendered from it at /docs. Requests the routes do not
// match get arcgate's error shape: 404 pointing to /docs, 405 with an
// Allow header; a body or query parameter that does not decode gets a
// BadRequest naming the field.
func New(ctx context.Context, conn grpc.ClientConnInterface) (http.Handler, error) {
	// HTTPBodyMarshaler (grpc-gateway's default wrapper) sends a
	// google.api.HttpBody response body raw, e.g. a thumbnail image.
	jsonMarshaler := &runtime.HTTPBodyMarshaler{Marshaler: &runtime.JSONPb{
		// Fields holding their default value (0, "", false, empty lists,
		// UNSPECIFIED enums) are omitted, as in Google's JSON APIs: a
		// missing field means its default. Writing them (EmitUnpopulated)
		// made a 200-service list 2.8 times larger and 4.6 times slower to
		// marshal, protojson sorting every message's fields by reflection.
		MarshalOptions:   protojson.MarshalOptions{UseProtoNames: false},
		UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
	}}
	// grpc-gateway keeps the query parser in a package variable, which its
	// option sets: set it once, not while another gateway may be reading it.
	setQueryParser.Do(func() { runtime.SetQueryParameterParser(&checkedQueryParser{})(nil) })
	routes := newRouteIndex()
	opts := append([]runtime.ServeMuxOption{
		runtime.WithMarshalerOption(runtime.MIMEWildcard, checkedJSON{fastJSON{jsonMarshaler}}),
		runtime.WithRoutingErrorHandler(routingErrorHandler(routes)),
		runtime.WithForwardResponseOption(httpBodyContentType),
		runtime.WithHealthzEndpoint(grpc_health_v1.NewHealthClient(conn)),
		runtime.WithIncomingHeaderMatcher(forwardArcGISCredentials(ForwardAPIKey(incomingHeader))),
		runtime.WithOutgoingHeaderMatcher(outgoingHeader),
		runtime.WithErrorHandler(RetryAfterErrorHandler(readableErrors(runtime.DefaultHTTPErrorHandler))),
	}, rawUploadOptions(jsonMarshaler)...)
	mux := hotFirst{hot: runtime.NewServeMux(opts...), asRegistered: runtime.NewServeMux(opts...)}
	if err := register(ctx, mux.hot, conn, true); err != nil {
		return nil, err
	}
	// The route index gets the same routes (its handlers never run), so
	// that a 405 can list the methods a path has.
	for _, m := range []*runtime.ServeMux{mux.asRegistered, routes.mux} {
		if err := register(ctx, m, conn, false); err != nil {
			return nil, err
		}
	}
	if err := routes.mux.HandlePath(http.MethodGet, "/healthz", func(http.ResponseWriter, *http.Request, map[string]string) {}); err != nil {
		return nil, err
	}
	return mux, nil
}

// hotFirst serves a request with hot, whose routes are registered with the
// reads of services and item infos last, so that grpc-gateway tries them
// first: its ServeMux tries a method's routes one by one, the last
// registered first, and every route tried before the one that matches
// costs up to two allocations (24 routes were tried before GetService: 40
// of its 116 allocations in BenchmarkRESTRead). No route of those two services can match a
// request a route of another registration can (TestRouteOrderChangesNoMatch),
// so the order decides nothing, with one exception: a last path segment
// that is a colon and a verb (".../:watch") gets a 404 from the first route
// tried with that verb, before any later route that would match it. Such
// paths go to asRegistered, the routes in the order of before.
type hotFirst struct {
	hot, asRegistered *runtime.ServeMux
}

func (h hotFirst) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := r.URL.Path; strings.HasPrefix(p[strings.LastIndexByte(p, '/')+1:], ":") {
		h.asRegistered.ServeHTTP(w, r)
		return
	}
	h.hot.ServeHTTP(w, r)
}

// setQueryParser installs checkedQueryParser, once per process.
var setQueryParser sync.Once

// register adds every route of the REST API to mux; with hotFirst, the
// services and item infos last, so that mux tries them first (hotFirst,
// the type).
func register(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface, hotFirst bool) error {
	services := func() error {
		return adminv1.RegisterServicesServiceHandlerClient(ctx, mux, adminv1.NewServicesServiceClient(conn))
	}
	itemInfo := func() error {
		return adminv1.RegisterItemInfoServiceHandlerClient(ctx, mux, adminv1.NewItemInfoServiceClient(conn))
	}
	others := []func() error{
		func() error {
			return adminv1.RegisterRolesServiceHandlerClient(ctx, mux, adminv1.NewRolesServiceClient(conn))
		},
		func() error {
			return adminv1.RegisterUsageReportsServiceHandlerClient(ctx, mux, adminv1.NewUsageReportsServiceClient(conn))
		},
		func() error {
			return adminv1.RegisterJobsServiceHandlerClient(ctx, mux, adminv1.NewJobsServiceClient(conn))
		},
		func() error { return operations.RegisterREST(ctx, mux, longrunningpb.NewOperationsClient(conn)) },
	}
	registrations := []func() error{
		func() error { return mux.HandlePath(http.MethodGet, "/openapi.json", serveOpenAPI) },
		func() error { return mux.HandlePath(http.MethodGet, docsPath, serveDocsPage) },
		func() error { return mux.HandlePath(http.MethodGet, docsPath+"/{file}", serveDocsAsset) },
	}
	if hotFirst {
		registrations = append(append(registrations, others...), itemInfo, services)
	} else {
		registrations = append(append(registrations, services, itemInfo), others...)
	}
	for _, reg := range registrations {
		if err := reg(); err != nil {
			return err
		}
	}
	return nil
}

// httpBodyContentType sets the Content-Type of a response whose HTTP body is
// a google.api.HttpBody field (`response_body` in the HTTP rule, as for
// GetThumbnail): the marshaler sends such a body raw but takes the content
// type from the whole response message, which is JSON.
func httpBodyContentType(_ context.Context, w http.ResponseWriter, m proto.Message) error {
	rb, ok := m.(interface{ XXX_ResponseBody() any })
	if !ok {
		return nil
	}
	if body, ok := rb.XXX_ResponseBody().(*httpbody.HttpBody); ok && body.GetContentType() != "" {
		w.Header().Set("Content-Type", body.GetContentType())
		w.Header().Set("X-Content-Type-Options", "nosniff")
	}
	return nil
}

// arcgisCredentialHeaders maps the HTTP headers of delegated mode to their
// gRPC metadata keys (rpc.MetadataArcGISToken and friends). Only these
// x-arcgis-* names are forwarded; package rpc validates them.
var arcgisCredentialHeaders = map[string]string{
	"X-Arcgis-Token":    rpc.MetadataArcGISToken,
	"X-Arcgis-Username": rpc.MetadataArcGISUsername,
	"X-Arcgis-Password": rpc.MetadataArcGISPassword,
}

// forwardArcGISCredentials forwards the delegated-mode headers
// (X-ArcGIS-Token, or X-ArcGIS-Username and X-ArcGIS-Password) as gRPC
// metadata of the same lower-case names, and leaves every other header to
// next.
func forwardArcGISCredentials(next runtime.HeaderMatcherFunc) runtime.HeaderMatcherFunc {
	return func(key string) (string, bool) {
		if md, ok := arcgisCredentialHeaders[textproto.CanonicalMIMEHeaderKey(key)]; ok {
			return md, true
		}
		return next(key)
	}
}
