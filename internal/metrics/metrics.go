// Package metrics holds arcgate's Prometheus metrics and serves them at
// /metrics.
//
// One Metrics value owns a private registry (never the global one) with:
//
//   - grpc_server_started_total, grpc_server_handled_total (by grpc_type,
//     grpc_service, grpc_method, grpc_code), grpc_server_msg_received_total,
//     grpc_server_msg_sent_total and the grpc_server_handling_seconds
//     histogram, as go-grpc-middleware's Prometheus provider names and
//     records them (grpc.go); REST calls are counted here too, since the
//     gateway calls the gRPC services through the same interceptors;
//   - arcgate_grpc_server_in_flight_calls (by grpc_service, grpc_method);
//   - arcgate_http_requests_total (by method and code) and
//     arcgate_http_request_duration_seconds (by method), for everything the
//     HTTP listener answers, including what never reaches gRPC;
//   - arcgate_upstream_request_duration_seconds (by operation and outcome),
//     fed by ObserveUpstream, the upstream client's Observer;
//   - arcgate_token_pool_* from RegisterTokenPool, and
//     arcgate_upstream_circuit_state, arcgate_upstream_consecutive_failures
//     and arcgate_upstream_in_flight_requests from RegisterUpstreamHealth,
//     all read when scraped;
//   - arcgate_build_info, and the Go runtime and process collectors.
//
// No label takes a secret or an unbounded value: labels are gRPC method
// names (only registered methods reach interceptors), codes, upstream
// operation names (constants of the upstream package) and fixed outcome
// words.
//
// One cache, paid for by its figures: the gRPC series of each method are
// looked up on its first call and kept (grpc.go), where go-grpc-middleware's
// provider hashed five label sets under the vectors' locks on every call.
// go test -run '^$' -bench Chain -benchmem ./rpc/ (2-CPU VM): 17 -> 14
// allocations per call through the interceptors, 38 -> 35 in process; the
// same series as the provider's (TestGRPCMetricsAsTheProvider).
package metrics

import (
	"context"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"

	"github.com/arcgate/arcgate/internal/version"
	"github.com/arcgate/arcgate/upstream"
)

// Path is where Handler is mounted by Wrap.
const Path = "/metrics"

// latencyBuckets are the histogram buckets, in seconds, for gRPC, HTTP and
// upstream latencies: 5 ms to 30 s (arcgate's default deadline is 15 s).
var latencyBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15, 30}

// Metrics is arcgate's set of metrics. Create it with New; it is safe for
// concurrent use.
type Metrics struct {
	reg      *prometheus.Registry
	grpc     *grpcMetrics
	httpReqs *prometheus.CounterVec
	httpDur  *prometheus.HistogramVec
	upDur    *prometheus.HistogramVec
}

// New returns a Metrics with its own registry, holding the gRPC, HTTP,
// upstream, build, Go runtime and process metrics.
func New() *Metrics {
	m := &Metrics{
		reg:  prometheus.NewRegistry(),
		grpc: newGRPCMetrics(),
		httpReqs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arcgate_http_requests_total",
			Help: "HTTP requests answered by the REST listener, by method and status code.",
		}, []string{"method", "code"}),
		httpDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "arcgate_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests on the REST listener, by method.",
			Buckets: latencyBuckets,
		}, []string{"method"}),
		upDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "arcgate_upstream_request_duration_seconds",
			Help:    "Duration of upstream admin API requests, by operation and outcome (ok, not_found, token_rejected, transport, ...).",
			Buckets: latencyBuckets,
		}, []string{"operation", "outcome"}),
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "arcgate_build_info",
		Help: "Always 1; the labels say which arcgate build is running.",
	}, []string{"version", "goversion"})
	build.WithLabelValues(version.String(), runtime.Version()).Set(1)
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpReqs, m.httpDur, m.upDur, build,
	)
	m.reg.MustRegister(m.grpc.collectors()...)
	return m
}

// Registry returns the registry, to register more collectors on it.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format (or OpenMetrics,
// with trace exemplars, when the scraper asks for it).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:          m.reg, // counts scrape errors in promhttp_metric_handler_errors_total
		EnableOpenMetrics: true,
	})
}

// Wrap returns h with HTTP metrics, and Handler mounted at GET /metrics
// (which is itself not counted).
func (m *Metrics) Wrap(h http.Handler) http.Handler {
	metrics := m.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == Path {
			metrics.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			method := httpMethod(r.Method)
			m.httpReqs.WithLabelValues(method, strconv.Itoa(rec.code())).Inc()
			m.httpDur.WithLabelValues(method).Observe(time.Since(start).Seconds())
		}()
		h.ServeHTTP(rec, r)
	})
}

// httpMethod bounds the method label: the standard methods, else "other".
func httpMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// statusRecorder remembers the status code written through it.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer (Flush
// for streaming responses).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush flushes the underlying writer, for streamed REST responses.
func (r *statusRecorder) Flush() {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	_ = http.NewResponseController(r.ResponseWriter).Flush()
}

func (r *statusRecorder) code() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

// UnaryInterceptors are the unary interceptors that record the gRPC
// metrics, outermost first (one: grpc.go). Chain them before other
// interceptors so that every call is counted with the code it ends with.
func (m *Metrics) UnaryInterceptors() []grpc.UnaryServerInterceptor {
	return []grpc.UnaryServerInterceptor{m.grpc.unary}
}

// StreamInterceptors are UnaryInterceptors for streams.
func (m *Metrics) StreamInterceptors() []grpc.StreamServerInterceptor {
	return []grpc.StreamServerInterceptor{m.grpc.stream}
}

// InitializeMetrics makes every method registered on s appear in the
// gRPC metrics with zero counts; call it after registering the services.
func (m *Metrics) InitializeMetrics(s reflection.ServiceInfoProvider) { m.grpc.initialize(s) }

// exemplar attaches the trace id to gRPC metrics when the call is traced.
func exemplar(ctx context.Context) prometheus.Labels {
	if sc := trace.SpanContextFromContext(ctx); sc.IsSampled() {
		return prometheus.Labels{"trace_id": sc.TraceID().String()}
	}
	return nil
}

// splitMethod splits "/pkg.Service/Method" into service and method.
func splitMethod(full string) (service, method string) {
	if len(full) > 0 && full[0] == '/' {
		full = full[1:]
	}
	for i := len(full) - 1; i >= 0; i-- {
		if full[i] == '/' {
			return full[:i], full[i+1:]
		}
	}
	return "unknown", "unknown"
}

// ObserveUpstream records one upstream exchange; it is an
// upstream.Observer (pass it to upstream.WithObserver). The outcome label
// is upstream.Outcome(err).
func (m *Metrics) ObserveUpstream(op string, d time.Duration, err error) {
	m.upDur.WithLabelValues(op, upstream.Outcome(err)).Observe(d.Seconds())
}

var _ upstream.Observer = (*Metrics)(nil).ObserveUpstream
