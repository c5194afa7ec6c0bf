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
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/arcgate/arcgate/internal/telemetry"
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
	if tel.ServerOptions() != nil || tel.DialOptions() != nil {
		t.Error("gRPC options while off")
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

// TestOneTraceAcrossTheLayers sends a REST request through otelhttp, a
// gRPC client and server with the stats handlers, and an upstream request
// through Transport, and checks that all four spans form one trace, that
// the upstream got the trace context, and that no span holds the token.
func TestOneTraceAcrossTheLayers(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tel, err := telemetry.Setup(context.Background(), telemetry.Config{Exporter: exp, Version: "v1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })

	// The upstream.
	seen := &upstreamSeen{}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.mu.Lock()
		seen.traceparent, seen.query = r.Header.Get("Traceparent"), r.URL.RawQuery
		seen.mu.Unlock()
		_, _ = io.WriteString(w, `{"folders":[]}`)
	}))
	t.Cleanup(up.Close)
	upClient := &http.Client{Transport: tel.Transport(up.Client().Transport)}

	// The gRPC server: any method calls the upstream.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(append(tel.ServerOptions(), grpc.UnknownServiceHandler(func(_ any, ss grpc.ServerStream) error {
		var in emptypb.Empty
		if err := ss.RecvMsg(&in); err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ss.Context(), http.MethodGet, up.URL+"/arcgis/admin/services?f=json&token=s3cret-token-value", nil)
		if err != nil {
			return err
		}
		resp, err := upClient.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		return ss.SendMsg(&emptypb.Empty{})
	}))...)
	done := make(chan struct{})
	go func() { defer close(done); _ = gs.Serve(lis) }()
	t.Cleanup(func() { gs.Stop(); <-done })

	// The gateway: REST → gRPC through a traced client connection.
	conn, err := grpc.NewClient(lis.Addr().String(),
		append(tel.DialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/folders", func(w http.ResponseWriter, r *http.Request) {
		if err := conn.Invoke(r.Context(), "/arcgate.admin.v1.ServicesService/ListFolders", &emptypb.Empty{}, &emptypb.Empty{}); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		_, _ = io.WriteString(w, "{}")
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	rest := httptest.NewServer(tel.HTTPHandler(mux))
	t.Cleanup(rest.Close)

	for _, path := range []string{"/healthz", "/v1/folders"} {
		resp, err := rest.Client().Get(rest.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
	}

	spans := exp.GetSpans()
	if len(spans) != 4 { // /healthz has none
		t.Fatalf("got %d spans %v, want 4 (REST server, gRPC client, gRPC server, upstream client)", len(spans), names(spans))
	}
	var restSpan, grpcClient, grpcServer, upSpan tracetest.SpanStub
	for _, s := range spans {
		switch {
		case s.SpanKind == trace.SpanKindServer && s.Name == "GET":
			restSpan = s
		case s.SpanKind == trace.SpanKindServer:
			grpcServer = s
		case s.Name == "arcgate.admin.v1.ServicesService/ListFolders":
			grpcClient = s
		default:
			upSpan = s
		}
	}
	chain := []struct {
		name          string
		child, parent tracetest.SpanStub
	}{
		{"gRPC client under REST", grpcClient, restSpan},
		{"gRPC server under gRPC client", grpcServer, grpcClient},
		{"upstream under gRPC server", upSpan, grpcServer},
	}
	for _, c := range chain {
		if c.child.Parent.SpanID() != c.parent.SpanContext.SpanID() || c.child.SpanContext.TraceID() != restSpan.SpanContext.TraceID() {
			t.Errorf("%s: parent %v, want %v (spans %v)", c.name, c.child.Parent.SpanID(), c.parent.SpanContext.SpanID(), names(spans))
		}
	}
	seen.mu.Lock()
	tp, q := seen.traceparent, seen.query
	seen.mu.Unlock()
	if want := restSpan.SpanContext.TraceID().String(); !strings.Contains(tp, want) {
		t.Errorf("upstream traceparent %q does not carry trace %s", tp, want)
	}
	if !strings.Contains(q, "s3cret-token-value") {
		t.Fatalf("test is broken: the upstream did not get the token (%q)", q)
	}
	if upSpan.Name != "GET" || attr(upSpan, "url.path") != "/arcgis/admin/services" || attr(upSpan, "http.response.status_code") != "200" {
		t.Errorf("upstream span %q attributes %v", upSpan.Name, upSpan.Attributes)
	}
	for _, s := range spans {
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
