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
	"slices"
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
	mux := hotFirst{
		services:     runtime.NewServeMux(opts...),
		itemInfo:     runtime.NewServeMux(opts...),
		asRegistered: runtime.NewServeMux(opts...),
	}
	for _, err := range []error{
		register(ctx, mux.services, conn, servicesRoutes, itemInfoRoutes),
		register(ctx, mux.itemInfo, conn, itemInfoRoutes, servicesRoutes),
		register(ctx, mux.asRegistered, conn),
		// The route index gets the same routes (its handlers never run),
		// so that a 405 can list the methods a path has.
		register(ctx, routes.mux, conn),
		routes.mux.HandlePath(http.MethodGet, "/healthz", func(http.ResponseWriter, *http.Request, map[string]string) {}),
	} {
		if err != nil {
			return nil, err
		}
	}
	return mux, nil
}

// hotFirst serves a request with a ServeMux whose routes are registered so
// that grpc-gateway tries the hot reads first: its ServeMux tries a
// method's routes one by one, the last registered first, and every route
// tried before the one that matches costs up to two allocations (24
// routes were tried before GetService: 40 of its 116 allocations in
// BenchmarkRESTRead). A path ending in /itemInfo goes to itemInfo, whose
// item info routes come first, any other to services, whose service
// routes come first. No path can match routes of two registrations
// (TestRouteOrderChangesNoMatch), so the order decides nothing, with one
// exception: a last path segment that is a colon and a verb (".../:watch")
// gets a 404 from the first route tried with that verb, before any later
// route that would match it. Such paths go to asRegistered, the routes in
// the order of before.
type hotFirst struct {
	services, itemInfo, asRegistered *runtime.ServeMux
}

func (h hotFirst) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch last := p[strings.LastIndexByte(p, '/')+1:]; {
	case strings.HasPrefix(last, ":"):
		h.asRegistered.ServeHTTP(w, r)
	case last == "itemInfo":
		h.itemInfo.ServeHTTP(w, r)
	default:
		h.services.ServeHTTP(w, r)
	}
}

// setQueryParser installs checkedQueryParser, once per process.
var setQueryParser sync.Once

// The registrations of register that hotFirst moves.
const (
	servicesRoutes = "services"
	itemInfoRoutes = "itemInfo"
)

// register adds every route of the REST API to mux; the registrations
// named in triedFirst last, triedFirst[0] at the very end, so that mux
// tries their routes first (hotFirst).
func register(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface, triedFirst ...string) error {
	type registration struct {
		name string
		add  func() error
	}
	registrations := []registration{
		{"", func() error { return mux.HandlePath(http.MethodGet, "/openapi.json", serveOpenAPI) }},
		{"", func() error { return mux.HandlePath(http.MethodGet, docsPath, serveDocsPage) }},
		{"", func() error { return mux.HandlePath(http.MethodGet, docsPath+"/{file}", serveDocsAsset) }},
		{servicesRoutes, func() error {
			return adminv1.RegisterServicesServiceHandlerClient(ctx, mux, adminv1.NewServicesServiceClient(conn))
		}},
		{itemInfoRoutes, func() error {
			return adminv1.RegisterItemInfoServiceHandlerClient(ctx, mux, adminv1.NewItemInfoServiceClient(conn))
		}},
		{"", func() error {
			return adminv1.RegisterRolesServiceHandlerClient(ctx, mux, adminv1.NewRolesServiceClient(conn))
		}},
		{"", func() error {
			return adminv1.RegisterUsageReportsServiceHandlerClient(ctx, mux, adminv1.NewUsageReportsServiceClient(conn))
		}},
		{"", func() error {
			return adminv1.RegisterJobsServiceHandlerClient(ctx, mux, adminv1.NewJobsServiceClient(conn))
		}},
		{"", func() error { return operations.RegisterREST(ctx, mux, longrunningpb.NewOperationsClient(conn)) }},
	}
	for i := len(triedFirst) - 1; i >= 0; i-- {
		at := slices.IndexFunc(registrations, func(r registration) bool { return r.name == triedFirst[i] })
		r := registrations[at]
		registrations = append(slices.Delete(registrations, at, at+1), r)
	}
	for _, r := range registrations {
		if err := r.add(); err != nil {
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
