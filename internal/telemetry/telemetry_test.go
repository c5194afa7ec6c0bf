package telemetry_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/internal/telemetry"
	"github.com/arcgate/arcgate/rpc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestEnabled(t *testing.T) {
	tests := []struct {
		name string
		flag bool
		env  map[string]string
		want bool
	}{
		{"nothing set", false, nil, false},
		{"flag", true, nil, true},
		{"exporter otlp", false, map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true},
		{"exporter console", false, map[string]string{"OTEL_TRACES_EXPORTER": "console"}, true},
		{"exporter none", false, map[string]string{"OTEL_TRACES_EXPORTER": "none"}, false},
		{"exporter NONE", false, map[string]string{"OTEL_TRACES_EXPORTER": " NONE "}, false},
		{"otlp endpoint", false, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, true},
		{"otlp traces endpoint", false, map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, true},
		{"service name alone", false, map[string]string{"OTEL_SERVICE_NAME": "gw"}, false},
		{"sdk disabled beats flag", true, map[string]string{"OTEL_SDK_DISABLED": "true"}, false},
		{"sdk disabled beats endpoint", false, map[string]string{"OTEL_SDK_DISABLED": "TRUE", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, false},
		{"sdk disabled false", false, map[string]string{"OTEL_SDK_DISABLED": "false", "OTEL_TRACES_EXPORTER": "otlp"}, true},
	}
	for _, tt := range tests {
		getenv := func(k string) string { return tt.env[k] }
		if got := telemetry.Enabled(telemetry.Config{Enabled: tt.flag, Getenv: getenv}); got != tt.want {
			t.Errorf("%s: Enabled = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// handler is a comparable http.Handler.
type handler struct{}

func (*handler) ServeHTTP(http.ResponseWriter, *http.Request) {}

func TestOffIsFree(t *testing.T) {
	tel, err := telemetry.Setup(context.Background(), telemetry.Config{Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	if tel.Enabled() {
		t.Fatal("tracing on with nothing configured")
	}
	h := &handler{}
	if got := tel.HTTPHandler(h); got != http.Handler(h) {
		t.Error("HTTPHandler wrapped the handler while off")
	}
	rt := &http.Transport{}
	if got := tel.Transport(rt); got != http.RoundTripper(rt) {
		t.Error("Transport wrapped the transport while off")
	}
	if tel.ServerOptions() != nil || tel.InProcessInterceptors() != nil || tel.InProcessStreamInterceptors() != nil {
		t.Error("gRPC options or interceptors while off")
	}
	if _, span := tel.TracerProvider().Tracer("x").Start(context.Background(), "s"); span.SpanContext().IsValid() {
		t.Error("the tracer provider records spans while off")
	}
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
	var zero *telemetry.Telemetry
	if zero.Enabled() || zero.HTTPHandler(h) != http.Handler(h) {
		t.Error("a nil Telemetry is not off")
	}
}

func TestSetupFromEnvironment(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		on      bool
		wantErr bool
	}{
		{"none", map[string]string{"OTEL_TRACES_EXPORTER": "none"}, false, false},
		{"console", map[string]string{"OTEL_TRACES_EXPORTER": "console"}, true, false},
		{"otlp http", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"}, true, false},
		{"otlp grpc", map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"}, true, false},
		{"unknown exporter", map[string]string{"OTEL_TRACES_EXPORTER": "carrier-pigeon"}, false, true},
		{"unknown protocol", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "smoke"}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
				"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_SDK_DISABLED"} {
				t.Setenv(k, tt.env[k])
			}
			tel, err := telemetry.Setup(context.Background(), telemetry.Config{Version: "v0.0.1-test"})
			if (err != nil) != tt.wantErr {
				t.Fatalf("Setup error = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				if strings.Contains(err.Error(), "127.0.0.1") {
					t.Errorf("error echoes the environment: %v", err)
				}
				return
			}
			if tel.Enabled() != tt.on {
				t.Errorf("Enabled = %v, want %v", tel.Enabled(), tt.on)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			// Nothing was traced, so shutdown exports nothing and returns at once.
			if err := tel.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
		})
	}
}

// upstreamSeen is what the fake upstream received.
type upstreamSeen struct {
	mu          sync.Mutex
	traceparent string
	query       string
}

// foldersServer answers ListFolders after calling the upstream through
// client, as arcgate's services do.
type foldersServer struct {
	adminv1.UnimplementedServicesServiceServer
	client   *http.Client
	upstream string
}

func (f *foldersServer) ListFolders(ctx context.Context, _ *adminv1.ListFoldersRequest) (*adminv1.ListFoldersResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.upstream+"/arcgis/admin/services?f=json&token=s3cret-token-value", nil)
	if err != nil {
		return nil, err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	return &adminv1.ListFoldersResponse{}, nil
}

// tracedLayers is arcgate's layers wired as internal/app wires them, with
// tracing on: a gRPC server with the stats handler (ServerOptions), the
// in-process path of the REST gateway (InProcessInterceptors) behind
// HTTPHandler, and the upstream client behind Transport.
type tracedLayers struct {
	exp  *tracetest.InMemoryExporter
	rest *httptest.Server
	grpc string // the gRPC server's address
	seen *upstreamSeen
}

func startTracedLayers(t *testing.T) *tracedLayers {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tel, err := telemetry.Setup(context.Background(), telemetry.Config{Exporter: exp, Version: "v1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })

	seen := &upstreamSeen{}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.mu.Lock()
		seen.traceparent, seen.query = r.Header.Get("Traceparent"), r.URL.RawQuery
		seen.mu.Unlock()
		_, _ = io.WriteString(w, `{"folders":[]}`)
	}))
	t.Cleanup(up.Close)
	svc := &foldersServer{client: &http.Client{Transport: tel.Transport(up.Client().Transport)}, upstream: up.URL}

	gs := grpc.NewServer(tel.ServerOptions()...)
	inproc := rpc.NewInProcess(tel.InProcessInterceptors()...)
	adminv1.RegisterServicesServiceServer(rpc.Registrars(gs, inproc), svc)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = gs.Serve(lis) }()
	t.Cleanup(func() { gs.Stop(); <-done })

	// The REST gateway calls the services in process.
	client := adminv1.NewServicesServiceClient(inproc)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/folders", func(w http.ResponseWriter, r *http.Request) {
		if _, err := client.ListFolders(r.Context(), &adminv1.ListFoldersRequest{}); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		_, _ = io.WriteString(w, "{}")
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	rest := httptest.NewServer(tel.HTTPHandler(mux))
	t.Cleanup(rest.Close)
	return &tracedLayers{exp: exp, rest: rest, grpc: lis.Addr().String(), seen: seen}
}

// checkUpstream checks that the upstream request carried trace traceID and
// the token, and that no span holds the token.
func (l *tracedLayers) checkUpstream(t *testing.T, traceID trace.TraceID, upSpan tracetest.SpanStub) {
	t.Helper()
	l.seen.mu.Lock()
	tp, q := l.seen.traceparent, l.seen.query
	l.seen.mu.Unlock()
	if !strings.Contains(tp, traceID.String()) {
		t.Errorf("upstream traceparent %q does not carry trace %s", tp, traceID)
	}
	if !strings.Contains(q, "s3cret-token-value") {
		t.Fatalf("test is broken: the upstream did not get the token (%q)", q)
	}
	if upSpan.Name != "GET" || attr(upSpan, "url.path") != "/arcgis/admin/services" || attr(upSpan, "http.response.status_code") != "200" {
		t.Errorf("upstream span %q attributes %v", upSpan.Name, upSpan.Attributes)
	}
	for _, s := range l.exp.GetSpans() {
		for _, a := range s.Attributes {
			if strings.Contains(a.Value.String(), "s3cret") {
				t.Errorf("span %q attribute %s holds the token", s.Name, a.Key)
			}
		}
		if got := resAttr(s, "service.version"); got != "v1.2.3" {
			t.Errorf("span %q service.version = %q", s.Name, got)
		}
	}
}

// checkChain checks that each child span is its parent's child, in trace
// traceID.
func checkChain(t *testing.T, spans tracetest.SpanStubs, traceID trace.TraceID, chain []spanLink) {
	t.Helper()
	for _, c := range chain {
		if c.child.Parent.SpanID() != c.parent || c.child.SpanContext.TraceID() != traceID {
			t.Errorf("%s: parent %v in trace %v, want %v in trace %v (spans %v)",
				c.name, c.child.Parent.SpanID(), c.child.SpanContext.TraceID(), c.parent, traceID, names(spans))
		}
	}
}

// waitForSpans returns exp's spans once it holds n, or after 10s: the gRPC
// server ends its span after the reply is on its way to the client.
func waitForSpans(exp *tracetest.InMemoryExporter, n int) tracetest.SpanStubs {
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if spans := exp.GetSpans(); len(spans) >= n || time.Now().After(deadline) {
			return spans
		}
	}
}

type spanLink struct {
	name   string
	child  tracetest.SpanStub
	parent trace.SpanID
}

// TestOneTraceAcrossTheLayers sends a REST request through HTTPHandler to
// a service called in process (InProcessInterceptors), which calls the
// upstream through Transport, and checks that the three spans form one
// trace, that the upstream got the trace context, and that no span holds
// the token.
func TestOneTraceAcrossTheLayers(t *testing.T) {
	l := startTracedLayers(t)
	for _, path := range []string{"/healthz", "/v1/folders"} {
		resp, err := l.rest.Client().Get(l.rest.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
	}

	spans := l.exp.GetSpans()
	if len(spans) != 3 { // /healthz has none
		t.Fatalf("got %d spans %v, want 3 (REST server, in-process call, upstream client)", len(spans), names(spans))
	}
	var restSpan, call, upSpan tracetest.SpanStub
	for _, s := range spans {
		switch {
		case s.SpanKind == trace.SpanKindServer && s.Name == "GET":
			restSpan = s
		case s.SpanKind == trace.SpanKindInternal && s.Name == "arcgate.admin.v1.ServicesService/ListFolders":
			call = s
		case s.SpanKind == trace.SpanKindClient:
			upSpan = s
		}
	}
	traceID := restSpan.SpanContext.TraceID()
	if !traceID.IsValid() || restSpan.Parent.IsValid() {
		t.Fatalf("no REST root span in %v", names(spans))
	}
	checkChain(t, spans, traceID, []spanLink{
		{"in-process call under REST", call, restSpan.SpanContext.SpanID()},
		{"upstream under the in-process call", upSpan, call.SpanContext.SpanID()},
	})
	if got := attr(call, "rpc.grpc.status_code"); got != "0" {
		t.Errorf("in-process span code %q, want 0", got)
	}
	l.checkUpstream(t, traceID, upSpan)
}

// TestGRPCCallContinuesTheCallersTrace calls the gRPC server with a W3C
// traceparent in the metadata, as a traced gRPC client sends it, and checks
// that the server span continues that trace and the upstream span is its
// child.
func TestGRPCCallContinuesTheCallersTrace(t *testing.T) {
	l := startTracedLayers(t)
	conn, err := grpc.NewClient(l.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	const (
		callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
		callerSpan  = "00f067aa0ba902b7"
	)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "traceparent", "00-"+callerTrace+"-"+callerSpan+"-01")
	if _, err := adminv1.NewServicesServiceClient(conn).ListFolders(ctx, &adminv1.ListFoldersRequest{}); err != nil {
		t.Fatal(err)
	}

	spans := waitForSpans(l.exp, 2)
	if len(spans) != 2 {
		t.Fatalf("got %d spans %v, want 2 (gRPC server, upstream client)", len(spans), names(spans))
	}
	var grpcServer, upSpan tracetest.SpanStub
	for _, s := range spans {
		switch s.SpanKind {
		case trace.SpanKindServer:
			grpcServer = s
		case trace.SpanKindClient:
			upSpan = s
		}
	}
	traceID, _ := trace.TraceIDFromHex(callerTrace)
	spanID, _ := trace.SpanIDFromHex(callerSpan)
	if grpcServer.Name != "arcgate.admin.v1.ServicesService/ListFolders" || !grpcServer.Parent.IsRemote() {
		t.Errorf("gRPC server span %q, remote parent %v", grpcServer.Name, grpcServer.Parent.IsRemote())
	}
	checkChain(t, spans, traceID, []spanLink{
		{"gRPC server under the caller's span", grpcServer, spanID},
		{"upstream under gRPC server", upSpan, grpcServer.SpanContext.SpanID()},
	})
	l.checkUpstream(t, traceID, upSpan)
}

func TestTransportErrorHidesTheURL(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tel, err := telemetry.Setup(context.Background(), telemetry.Config{Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	failing := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return nil, errors.New("dial " + r.URL.String() + ": refused")
	})
	hc := &http.Client{Transport: tel.Transport(failing)}
	_, err = hc.Get("http://upstream.invalid/arcgis/admin/?token=s3cret-token-value")
	if err == nil {
		t.Fatal("no error")
	}
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	s := spans[0]
	if s.Status.Description != "transport error" || len(s.Events) != 0 || attr(s, "error.type") != "*errors.errorString" {
		t.Errorf("span status %+v events %v attrs %v", s.Status, s.Events, s.Attributes)
	}
	for _, a := range s.Attributes {
		if strings.Contains(a.Value.String(), "s3cret") {
			t.Errorf("attribute %s holds the token", a.Key)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.SpanKind.String()+":"+s.Name)
	}
	return out
}

func attr(s tracetest.SpanStub, key string) string {
	for _, a := range s.Attributes {
		if string(a.Key) == key {
			return a.Value.String()
		}
	}
	return ""
}

func resAttr(s tracetest.SpanStub, key string) string {
	if s.Resource == nil {
		return ""
	}
	for _, a := range s.Resource.Attributes() {
		if string(a.Key) == key {
			return a.Value.String()
		}
	}
	return ""
}
