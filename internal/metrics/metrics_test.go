package metrics_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/arcgate/arcgate/internal/metrics"
	"github.com/arcgate/arcgate/upstream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startGRPC serves the health service with m's interceptors on loopback
// and returns a client of it.
func startGRPC(t *testing.T, m *metrics.Metrics) grpc_health_v1.HealthClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(grpc.ChainUnaryInterceptor(m.UnaryInterceptors()...), grpc.ChainStreamInterceptor(m.StreamInterceptors()...))
	grpc_health_v1.RegisterHealthServer(s, health.NewServer())
	m.InitializeMetrics(s)
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		s.Stop()
		<-done
	})
	return grpc_health_v1.NewHealthClient(conn)
}

// find returns the metric of family name whose labels include want, or nil.
func find(t *testing.T, reg prometheus.Gatherer, name string, want map[string]string) *dto.Metric {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	metric:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if have[k] != v {
					continue metric
				}
			}
			return m
		}
	}
	return nil
}

func TestGRPCMetrics(t *testing.T) {
	m := metrics.New()
	hc := startGRPC(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// InitializeMetrics makes registered methods appear before any call.
	check := map[string]string{"grpc_service": "grpc.health.v1.Health", "grpc_method": "Check", "grpc_type": "unary"}
	if c := find(t, m.Registry(), "grpc_server_started_total", check); c == nil || c.GetCounter().GetValue() != 0 {
		t.Fatalf("Check not pre-registered with 0 calls: %v", c)
	}

	if _, err := hc.Check(ctx, &grpc_health_v1.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		_, err := hc.Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: "no.such.Service"})
		if status.Code(err) != codes.NotFound {
			t.Fatalf("Check(unknown) = %v, want NotFound", err)
		}
	}
	tests := []struct {
		code string
		want float64
	}{{"OK", 1}, {"NotFound", 2}, {"Internal", 0}}
	for _, tt := range tests {
		labels := map[string]string{"grpc_code": tt.code}
		for k, v := range check {
			labels[k] = v
		}
		c := find(t, m.Registry(), "grpc_server_handled_total", labels)
		if got := c.GetCounter().GetValue(); got != tt.want {
			t.Errorf("grpc_server_handled_total{grpc_code=%q} = %v, want %v", tt.code, got, tt.want)
		}
	}
	if h := find(t, m.Registry(), "grpc_server_handling_seconds", check); h.GetHistogram().GetSampleCount() != 3 {
		t.Errorf("grpc_server_handling_seconds count = %d, want 3", h.GetHistogram().GetSampleCount())
	}
}

func TestInFlight(t *testing.T) {
	m := metrics.New()
	hc := startGRPC(t, m)
	watch := map[string]string{"grpc_service": "grpc.health.v1.Health", "grpc_method": "Watch"}
	inFlight := func() float64 {
		return find(t, m.Registry(), "arcgate_grpc_server_in_flight_calls", watch).GetGauge().GetValue()
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := hc.Watch(ctx, &grpc_health_v1.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil { // the handler is running now
		t.Fatal(err)
	}
	if got := inFlight(); got != 1 {
		t.Fatalf("in flight during Watch = %v, want 1", got)
	}
	cancel()
	deadline := time.Now().Add(10 * time.Second)
	for inFlight() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("in flight after the Watch ended = %v, want 0", inFlight())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestObserveUpstream(t *testing.T) {
	m := metrics.New()
	var obs upstream.Observer = m.ObserveUpstream
	obs("services.get", 20*time.Millisecond, nil)
	obs("services.get", 30*time.Millisecond, nil)
	obs("services.get", time.Millisecond, &upstream.Error{Kind: upstream.KindAPI, Code: 404})
	obs("generateToken", 2*time.Second, &upstream.Error{Kind: upstream.KindTransport, Err: context.DeadlineExceeded})
	tests := []struct {
		op, outcome string
		count       uint64
		sum         float64
	}{
		{"services.get", "ok", 2, 0.05},
		{"services.get", "not_found", 1, 0.001},
		{"generateToken", "deadline_exceeded", 1, 2},
		{"services.get", "transport", 0, 0},
	}
	for _, tt := range tests {
		h := find(t, m.Registry(), "arcgate_upstream_request_duration_seconds",
			map[string]string{"operation": tt.op, "outcome": tt.outcome}).GetHistogram()
		if h.GetSampleCount() != tt.count || (tt.count > 0 && (h.GetSampleSum() < tt.sum*0.999 || h.GetSampleSum() > tt.sum*1.001)) {
			t.Errorf("%s/%s: count %d sum %v, want %d and %v", tt.op, tt.outcome, h.GetSampleCount(), h.GetSampleSum(), tt.count, tt.sum)
		}
	}
}

func TestTokenPoolAndUpstreamHealth(t *testing.T) {
	m := metrics.New()
	stats := upstream.PoolStats{Identities: 3, TokensMinted: 7, Refreshes: 4, RefreshFailures: 2, Rejections: 1, Evictions: 5,
		RefreshLatencySum: 1500 * time.Millisecond, RefreshLatencyMax: 900 * time.Millisecond}
	if err := m.RegisterTokenPool(func() upstream.PoolStats { return stats }); err != nil {
		t.Fatal(err)
	}
	health := upstream.Health{Breaker: upstream.BreakerClosed, ConsecutiveFailures: 2, InFlight: 4}
	if err := m.RegisterUpstreamHealth(func() upstream.Health { return health }); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		value float64
	}{
		{"arcgate_token_pool_identities", 3},
		{"arcgate_token_pool_tokens_minted_total", 7},
		{"arcgate_token_pool_refresh_failures_total", 2},
		{"arcgate_token_pool_rejections_total", 1},
		{"arcgate_token_pool_evictions_total", 5},
		{"arcgate_token_pool_refresh_duration_max_seconds", 0.9},
		{"arcgate_upstream_consecutive_failures", 2},
		{"arcgate_upstream_in_flight_requests", 4},
	} {
		s := find(t, m.Registry(), tt.name, nil)
		if got := s.GetGauge().GetValue() + s.GetCounter().GetValue(); s == nil || got != tt.value {
			t.Errorf("%s = %v, want %v", tt.name, got, tt.value)
		}
	}
	if s := find(t, m.Registry(), "arcgate_token_pool_refresh_duration_seconds", nil).GetSummary(); s.GetSampleCount() != 4 || s.GetSampleSum() != 1.5 {
		t.Errorf("refresh summary count %d sum %v, want 4 and 1.5", s.GetSampleCount(), s.GetSampleSum())
	}
	stats.TokensMinted++
	if got := find(t, m.Registry(), "arcgate_token_pool_tokens_minted_total", nil).GetCounter().GetValue(); got != 8 {
		t.Errorf("minted after a new snapshot = %v, want 8", got)
	}

	circuit := func() string {
		var b strings.Builder
		for _, s := range []string{"closed", "half-open", "open"} {
			if find(t, m.Registry(), "arcgate_upstream_circuit_state", map[string]string{"state": s}).GetGauge().GetValue() == 1 {
				b.WriteString(s)
			}
		}
		return b.String()
	}
	for _, tt := range []struct {
		state upstream.BreakerState
		want  string
	}{{upstream.BreakerClosed, "closed"}, {upstream.BreakerOpen, "open"}, {upstream.BreakerHalfOpen, "half-open"}, {upstream.BreakerState(9), ""}} {
		health.Breaker = tt.state
		if got := circuit(); got != tt.want {
			t.Errorf("state %v: series at 1: %q, want %q", tt.state, got, tt.want)
		}
	}
	// The same collector cannot be registered twice.
	if err := m.RegisterUpstreamHealth(func() upstream.Health { return health }); err == nil {
		t.Error("second RegisterUpstreamHealth accepted")
	}
}

func TestWrap(t *testing.T) {
	m := metrics.New()
	m.ObserveUpstream("services.list", time.Millisecond, nil)
	app := http.NewServeMux()
	app.HandleFunc("GET /v1/folders", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "{}") })
	app.HandleFunc("POST /v1/folders", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusConflict) })
	srv := httptest.NewServer(m.Wrap(app))
	defer srv.Close()
	do := func(method, path string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	do("GET", "/v1/folders")
	do("GET", "/v1/folders")
	do("POST", "/v1/folders")
	do("GET", "/nope")
	do("BREW", "/v1/folders")

	code, body := do("GET", metrics.Path)
	if code != 200 {
		t.Fatalf("GET /metrics: %d", code)
	}
	for _, want := range []string{
		`arcgate_http_requests_total{code="200",method="GET"} 2`,
		`arcgate_http_requests_total{code="409",method="POST"} 1`,
		`arcgate_http_requests_total{code="404",method="GET"} 1`,
		`arcgate_http_requests_total{code="405",method="other"} 1`,
		`arcgate_upstream_request_duration_seconds_count{operation="services.list",outcome="ok"} 1`,
		`arcgate_build_info{goversion="go`,
		`go_goroutines `,
		`process_start_time_seconds `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, `path=`) || strings.Contains(body, "/v1/folders") || strings.Contains(body, "BREW") {
		t.Error("/metrics exposes a request path or raw method")
	}
	if strings.Contains(body, `arcgate_http_requests_total{code="200",method="GET"} 3`) {
		t.Error("the scrape of /metrics counted itself")
	}
}

// TestLabelsAreBounded checks the label names of every arcgate and gRPC
// series: none may carry a request-specific value.
func TestLabelsAreBounded(t *testing.T) {
	m := metrics.New()
	hc := startGRPC(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = hc.Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: "secret-looking-value"})
	m.ObserveUpstream("services.get", time.Millisecond, errors.New("token=abc password=def"))
	_ = m.RegisterTokenPool(func() upstream.PoolStats { return upstream.PoolStats{} })
	_ = m.RegisterUpstreamHealth(func() upstream.Health { return upstream.Health{} })
	allowed := map[string]bool{"grpc_type": true, "grpc_service": true, "grpc_method": true, "grpc_code": true,
		"method": true, "code": true, "operation": true, "outcome": true, "state": true, "version": true, "goversion": true}
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if !strings.HasPrefix(f.GetName(), "arcgate_") && !strings.HasPrefix(f.GetName(), "grpc_") {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if !allowed[l.GetName()] {
					t.Errorf("%s has label %s", f.GetName(), l.GetName())
				}
				if strings.Contains(l.GetValue(), "secret") || strings.Contains(l.GetValue(), "token=") {
					t.Errorf("%s{%s=%q} carries a request value", f.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
}
