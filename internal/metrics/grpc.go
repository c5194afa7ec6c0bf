package metrics

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/reflection"
)

// grpcMetrics records the gRPC server metrics that go-grpc-middleware's
// Prometheus provider (grpcprom.ServerMetrics with a handling-time
// histogram) records, under the same names, help, labels and buckets, and
// arcgate_grpc_server_in_flight_calls, in one interceptor. The provider
// looked up five series by their label values on every call (hashing the
// labels under the vector's lock) and allocated a reporter and label
// slices; here the series of a method are looked up on its first call and
// kept (the methods are those registered, a bounded set).
type grpcMetrics struct {
	started, handled, received, sent *prometheus.CounterVec
	handling                         *prometheus.HistogramVec
	inFlight                         *prometheus.GaugeVec

	mu      sync.Mutex                                  // serialises additions to methods
	methods atomic.Pointer[map[methodKey]*methodSeries] // copied on write
}

// methodKey names the series of a method called as typ.
type methodKey struct {
	typ        interceptors.GRPCType
	fullMethod string
}

// methodSeries are the series of one method.
type methodSeries struct {
	vecs                    *grpcMetrics
	typ                     interceptors.GRPCType
	service, method         string // the provider's split
	inFlight                prometheus.Gauge
	started, received, sent prometheus.Counter
	handling                prometheus.Observer
	handled                 [codes.Unauthenticated + 1]atomic.Pointer[prometheus.Counter] // by code, on first use
}

func newGRPCMetrics() *grpcMetrics {
	labels := []string{"grpc_type", "grpc_service", "grpc_method"}
	g := &grpcMetrics{
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grpc_server_started_total",
			Help: "Total number of RPCs started on the server.",
		}, labels),
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grpc_server_handled_total",
			Help: "Total number of RPCs completed on the server, regardless of success or failure.",
		}, append(labels[:3:3], "grpc_code")),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grpc_server_msg_received_total",
			Help: "Total number of RPC stream messages received on the server.",
		}, labels),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grpc_server_msg_sent_total",
			Help: "Total number of gRPC stream messages sent by the server.",
		}, labels),
		handling: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "grpc_server_handling_seconds",
			Help:    "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
			Buckets: latencyBuckets,
		}, labels),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "arcgate_grpc_server_in_flight_calls",
			Help: "gRPC calls (REST calls included) being handled now.",
		}, []string{"grpc_service", "grpc_method"}),
	}
	g.methods.Store(&map[methodKey]*methodSeries{})
	return g
}

// collectors are the vectors, to register.
func (g *grpcMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{g.started, g.handled, g.received, g.sent, g.handling, g.inFlight}
}

// series returns the series of fullMethod called as typ.
func (g *grpcMetrics) series(typ interceptors.GRPCType, fullMethod string) *methodSeries {
	k := methodKey{typ, fullMethod}
	if s, ok := (*g.methods.Load())[k]; ok {
		return s
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	old := *g.methods.Load()
	if s, ok := old[k]; ok {
		return s
	}
	service, method := splitFullMethodName(fullMethod)
	s := &methodSeries{vecs: g, typ: typ, service: service, method: method,
		started:  g.started.WithLabelValues(string(typ), service, method),
		received: g.received.WithLabelValues(string(typ), service, method),
		sent:     g.sent.WithLabelValues(string(typ), service, method),
		handling: g.handling.WithLabelValues(string(typ), service, method),
	}
	s.inFlight = g.inFlight.WithLabelValues(splitMethod(fullMethod))
	next := make(map[methodKey]*methodSeries, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[k] = s
	g.methods.Store(&next)
	return s
}

// handledCounter returns the grpc_server_handled_total series of code.
func (s *methodSeries) handledCounter(code codes.Code) prometheus.Counter {
	if int(code) >= len(s.handled) {
		return s.vecs.handled.WithLabelValues(string(s.typ), s.service, s.method, code.String())
	}
	if c := s.handled[code].Load(); c != nil {
		return *c
	}
	c := s.vecs.handled.WithLabelValues(string(s.typ), s.service, s.method, code.String())
	s.handled[code].Store(&c)
	return c
}

// add adds one to c, with the exemplar e when there is one.
func add(c prometheus.Counter, e prometheus.Labels) {
	if e == nil {
		c.Inc()
		return
	}
	c.(prometheus.ExemplarAdder).AddWithExemplar(1, e)
}

// observe records v in o, with the exemplar e when there is one.
func observe(o prometheus.Observer, v float64, e prometheus.Labels) {
	if e == nil {
		o.Observe(v)
		return
	}
	o.(prometheus.ExemplarObserver).ObserveWithExemplar(v, e)
}

// done records the end of a call: its code and how long it took.
func (s *methodSeries) done(err error, start time.Time, e prometheus.Labels) {
	code := codes.OK
	if err != nil {
		code = grpcprom.FromError(err).Code()
	}
	add(s.handledCounter(code), e)
	observe(s.handling, time.Since(start).Seconds(), e)
}

// unary records a unary call as the provider does: started, one message
// received, one sent when it succeeds, handled with its code, and the
// handling time; and the call in flight meanwhile.
func (g *grpcMetrics) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	s := g.series(interceptors.Unary, info.FullMethod)
	s.inFlight.Inc()
	defer s.inFlight.Dec()
	start := time.Now()
	e := exemplar(ctx)
	add(s.started, e)
	add(s.received, e)
	resp, err := handler(ctx, req)
	if err == nil {
		add(s.sent, e)
	}
	s.done(err, start, e)
	return resp, err
}

// stream is unary for a streaming call: each message received or sent
// without error counts.
func (g *grpcMetrics) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	s := g.series(streamType(info), info.FullMethod)
	s.inFlight.Inc()
	defer s.inFlight.Dec()
	start := time.Now()
	e := exemplar(ss.Context())
	add(s.started, e)
	err := handler(srv, &countedStream{ServerStream: ss, series: s, exemplar: e})
	s.done(err, start, e)
	return err
}

// countedStream counts a stream's messages.
type countedStream struct {
	grpc.ServerStream
	series   *methodSeries
	exemplar prometheus.Labels
}

func (c *countedStream) SendMsg(m any) error {
	err := c.ServerStream.SendMsg(m)
	if err == nil {
		add(c.series.sent, c.exemplar)
	}
	return err
}

func (c *countedStream) RecvMsg(m any) error {
	err := c.ServerStream.RecvMsg(m)
	if err == nil {
		add(c.series.received, c.exemplar)
	}
	return err
}

// initialize makes the series of every method registered on s appear
// with zero counts, as the provider's InitializeMetrics does (the
// in-flight gauge appears on a method's first call).
func (g *grpcMetrics) initialize(s reflection.ServiceInfoProvider) {
	for service, info := range s.GetServiceInfo() {
		for _, m := range info.Methods {
			typ := methodType(m)
			g.started.WithLabelValues(string(typ), service, m.Name)
			g.received.WithLabelValues(string(typ), service, m.Name)
			g.sent.WithLabelValues(string(typ), service, m.Name)
			g.handling.WithLabelValues(string(typ), service, m.Name)
			for _, code := range interceptors.AllCodes {
				g.handled.WithLabelValues(string(typ), service, m.Name, code.String())
			}
		}
	}
}

// streamType is the grpc_type of a streaming call.
func streamType(info *grpc.StreamServerInfo) interceptors.GRPCType {
	return methodType(grpc.MethodInfo{IsClientStream: info.IsClientStream, IsServerStream: info.IsServerStream})
}

// methodType is the grpc_type of a method.
func methodType(m grpc.MethodInfo) interceptors.GRPCType {
	switch {
	case !m.IsClientStream && !m.IsServerStream:
		return interceptors.Unary
	case m.IsClientStream && !m.IsServerStream:
		return interceptors.ClientStream
	case !m.IsClientStream && m.IsServerStream:
		return interceptors.ServerStream
	}
	return interceptors.BidiStream
}

// splitFullMethodName splits "/pkg.Service/Method" as the provider does
// (at the first slash after the leading one).
func splitFullMethodName(full string) (service, method string) {
	full = strings.TrimPrefix(full, "/")
	if i := strings.Index(full, "/"); i >= 0 {
		return full[:i], full[i+1:]
	}
	return "unknown", "unknown"
}
