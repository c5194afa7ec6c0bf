package e2e

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/arcgate/arcgate/internal/app"
	"github.com/arcgate/arcgate/internal/telemetry"
	"github.com/arcgate/arcgate/simulator"
)

// TestMetricsEndpoint calls arcgate over REST and gRPC and reads /metrics.
func TestMetricsEndpoint(t *testing.T) {
	e := start(t, simulator.Config{})
	if r := e.do(t, http.MethodGet, "/v1/folders", nil); r.Status != 200 {
		t.Fatalf("GET /v1/folders: %d", r.Status)
	}
	e.do(t, http.MethodGet, "/v1/folders/NoSuchFolder", nil)
	e.do(t, http.MethodGet, "/v1/services/NoSuch.MapServer", nil)
	r := e.do(t, http.MethodGet, "/metrics", nil)
	if r.Status != 200 {
		t.Fatalf("GET /metrics: %d", r.Status)
	}
	for _, want := range []string{
		`grpc_server_handled_total{grpc_code="OK",grpc_method="ListFolders",grpc_service="arcgate.admin.v1.ServicesService",grpc_type="unary"} 1`,
		`grpc_server_handled_total{grpc_code="NotFound",grpc_method="GetFolder",grpc_service="arcgate.admin.v1.ServicesService",grpc_type="unary"} 1`,
		`grpc_server_handling_seconds_bucket{grpc_method="ListFolders"`,
		`arcgate_grpc_server_in_flight_calls{grpc_method="ListFolders",grpc_service="arcgate.admin.v1.ServicesService"} 0`,
		`arcgate_http_requests_total{code="200",method="GET"}`,
		`arcgate_http_requests_total{code="404",method="GET"} 2`,
		`arcgate_upstream_request_duration_seconds_count{operation="generateToken",outcome="ok"}`,
		`outcome="not_found"} 1`,
		`arcgate_token_pool_identities 1`,
		`arcgate_token_pool_tokens_minted_total 1`,
		`arcgate_upstream_circuit_state{state="closed"} 1`,
		`arcgate_build_info{`,
	} {
		if !strings.Contains(r.Raw, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(r.Raw, "NoSuchFolder") || strings.Contains(r.Raw, "admin-password") {
		t.Error("/metrics holds a request value or a secret")
	}
}

// TestTracing runs arcgate with an in-memory exporter and checks that one
// REST call gives one trace: REST server span → the internal span of the
// gateway's in-process call → upstream requests.
func TestTracing(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tel, err := telemetry.Setup(context.Background(), telemetry.Config{Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Start(app.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Telemetry: tel})
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.Shutdown(ctx)
		_ = tel.Shutdown(ctx)
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	})
	resp, err := (&http.Client{Transport: tr}).Get("http://" + a.HTTPAddr + "/v1/services/SampleWorldCities.MapServer")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
	// The REST server span ends just after the response is sent: wait for
	// it.
	spans := waitForServerSpans(t, exp, 1)
	var root tracetest.SpanStub
	for _, s := range spans {
		if s.SpanKind == trace.SpanKindServer && !s.Parent.IsValid() {
			root = s
		}
	}
	if !root.SpanContext.IsValid() {
		t.Fatalf("no REST root span in %d spans", len(spans))
	}
	kinds := map[string]int{}
	for _, s := range spans {
		// Tokens are minted apart from any one call, in a trace of their own.
		if s.SpanContext.TraceID() != root.SpanContext.TraceID() && !strings.HasSuffix(attr(s, "url.path"), "/generateToken") {
			t.Errorf("span %q %s is in another trace", s.Name, attr(s, "url.path"))
		}
		kinds[s.SpanKind.String()+" "+s.Name]++
		for _, at := range s.Attributes {
			if strings.Contains(at.Value.String(), "token=") || strings.Contains(at.Value.String(), "admin-password") {
				t.Errorf("span %q attribute %s holds a secret", s.Name, at.Key)
			}
		}
	}
	// REST calls reach the gRPC services in process: an internal span
	// stands for the call, between the REST span and the upstream ones.
	for _, want := range []string{"server GET", "internal arcgate.admin.v1.ServicesService/GetService", "client GET"} {
		if kinds[want] == 0 {
			t.Errorf("no %q span: %v", want, kinds)
		}
	}
	var call tracetest.SpanStub
	for _, s := range spans {
		if s.SpanKind == trace.SpanKindInternal && s.Name == "arcgate.admin.v1.ServicesService/GetService" {
			call = s
		}
	}
	if call.Parent.SpanID() != root.SpanContext.SpanID() {
		t.Errorf("the in-process call's parent is %v, want the REST span %v", call.Parent.SpanID(), root.SpanContext.SpanID())
	}
	for _, s := range spans {
		if s.SpanKind == trace.SpanKindClient && s.SpanContext.TraceID() == root.SpanContext.TraceID() && s.Parent.SpanID() != call.SpanContext.SpanID() {
			t.Errorf("upstream span %s's parent is %v, want the in-process call %v", attr(s, "url.path"), s.Parent.SpanID(), call.SpanContext.SpanID())
		}
	}
}

// waitForServerSpans waits until exp holds n server spans and returns its
// spans.
func waitForServerSpans(t *testing.T, exp *tracetest.InMemoryExporter, n int) tracetest.SpanStubs {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		spans := exp.GetSpans()
		servers := 0
		for _, s := range spans {
			if s.SpanKind == trace.SpanKindServer {
				servers++
			}
		}
		if servers >= n || time.Now().After(deadline) {
			return spans
		}
	}
}

// A REST stream runs in process too, under an internal span with its code.
func TestTracingRESTStream(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tel, err := telemetry.Setup(context.Background(), telemetry.Config{Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Start(app.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Telemetry: tel})
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.Shutdown(ctx)
		_ = tel.Shutdown(ctx)
	})
	resp, err := (&http.Client{Transport: tr}).Get("http://" + a.HTTPAddr + "/v1/" + publishing + "/jobs/jffffffffffffffffffffffffffffffff:watch")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	for _, s := range waitForServerSpans(t, exp, 1) {
		if s.SpanKind == trace.SpanKindInternal && s.Name == "arcgate.admin.v1.JobsService/WatchJob" {
			if attr(s, "rpc.grpc.status_code") != "5" { // NOT_FOUND
				t.Fatalf("stream span code %s", attr(s, "rpc.grpc.status_code"))
			}
			return
		}
	}
	t.Fatalf("no internal span for the REST stream in %v", exp.GetSpans())
}

func attr(s tracetest.SpanStub, key string) string {
	for _, a := range s.Attributes {
		if string(a.Key) == key {
			return a.Value.String()
		}
	}
	return ""
}
