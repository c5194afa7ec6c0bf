// Package telemetry sets up OpenTelemetry tracing for arcgate: a span for
// each REST request (otelhttp), for each gRPC call (the otelgrpc stats
// handler), for each call the REST gateway makes in process
// (InProcessInterceptors) and for each upstream HTTP request (Transport),
// all in one trace joined by W3C trace context.
//
// Tracing is off by default. It is on when Config.Enabled is set (the
// --tracing flag), or when the standard OpenTelemetry environment names an
// exporter: OTEL_TRACES_EXPORTER (other than "none"),
// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT.
// OTEL_SDK_DISABLED=true turns it off whatever else is set. The exporter
// comes from go.opentelemetry.io/contrib/exporters/autoexport, so every
// standard variable works: OTEL_TRACES_EXPORTER (otlp, console, none),
// OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf, grpc),
// OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS,
// OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, OTEL_BSP_*,
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
//
// When tracing is off, every method returns its argument unchanged or no
// options: there is no cost.
//
// Spans never hold a secret: the upstream spans are made by this package's
// Transport, which records the method, host and path but never the query
// string (a site that ignores the token header gets the token there), and
// no span records headers or bodies.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc/filters"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// instrumentation is the tracer name of the spans made by Transport.
const instrumentation = "github.com/arcgate/arcgate/internal/telemetry"

// Config configures Setup.
type Config struct {
	// Enabled turns tracing on even when no OTEL_* variable names an
	// exporter (the exporter is then OTLP over HTTP to localhost:4318,
	// OpenTelemetry's default).
	Enabled bool
	// ServiceName is the service.name resource attribute unless
	// OTEL_SERVICE_NAME sets it (default "arcgate").
	ServiceName string
	// Version is the service.version resource attribute.
	Version string
	// Getenv reads the environment (default os.Getenv). The exporter itself
	// reads the process environment.
	Getenv func(string) string
	// Logger receives OpenTelemetry's own errors (export failures), when
	// tracing is on. Default: discard.
	Logger *slog.Logger
	// Exporter, when set, replaces the exporter chosen from the environment
	// and turns tracing on; spans are exported synchronously (for tests).
	Exporter sdktrace.SpanExporter
}

// Telemetry is arcgate's tracing setup. The zero value, and the value
// Setup returns when tracing is off, does nothing.
type Telemetry struct {
	tp   *sdktrace.TracerProvider // nil when off
	prop propagation.TextMapPropagator
}

// Enabled decides from cfg and the environment whether tracing is on.
func Enabled(cfg Config) bool {
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false
	}
	if cfg.Enabled || cfg.Exporter != nil {
		return true
	}
	if e := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); e != "" && !strings.EqualFold(e, "none") {
		return true
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Setup starts tracing when Enabled says so; otherwise it returns a
// Telemetry that does nothing. Call Shutdown to flush and stop.
func Setup(ctx context.Context, cfg Config) (*Telemetry, error) {
	if !Enabled(cfg) {
		return &Telemetry{}, nil
	}
	name := cfg.ServiceName
	if name == "" {
		name = "arcgate"
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", name)}
	if cfg.Version != "" {
		attrs = append(attrs, attribute.String("service.version", cfg.Version))
	}
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(attrs...),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
	)
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	var processor sdktrace.SpanProcessor
	if cfg.Exporter != nil {
		processor = sdktrace.NewSimpleSpanProcessor(cfg.Exporter)
	} else {
		exp, err := autoexport.NewSpanExporter(ctx)
		if err != nil {
			return nil, fmt.Errorf("telemetry: exporter from OTEL_* environment: %w", err)
		}
		if autoexport.IsNoneSpanExporter(exp) {
			return &Telemetry{}, nil
		}
		processor = sdktrace.NewBatchSpanProcessor(exp)
	}
	if cfg.Logger != nil {
		log := cfg.Logger
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
			log.Warn("opentelemetry", "error", err.Error())
		}))
	}
	// The sampler comes from OTEL_TRACES_SAMPLER (default: parent-based,
	// always on).
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithSpanProcessor(processor))
	return &Telemetry{
		tp:   tp,
		prop: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}, nil
}

// Enabled reports whether tracing is on.
func (t *Telemetry) Enabled() bool { return t != nil && t.tp != nil }

// TracerProvider returns the tracer provider: the SDK's when tracing is
// on, else a no-op one.
func (t *Telemetry) TracerProvider() trace.TracerProvider {
	if !t.Enabled() {
		return noop.NewTracerProvider()
	}
	return t.tp
}

// Shutdown exports the spans still buffered and stops the exporter.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	return t.tp.Shutdown(ctx)
}

// notHealth leaves gRPC health checks (and so /healthz) untraced.
var notHealth = filters.Not(filters.HealthCheck())

// ServerOptions returns the gRPC server option that traces every call
// (except health checks), continuing the caller's trace; nil when off.
func (t *Telemetry) ServerOptions() []grpc.ServerOption {
	if !t.Enabled() {
		return nil
	}
	return []grpc.ServerOption{grpc.StatsHandler(otelgrpc.NewServerHandler(
		otelgrpc.WithTracerProvider(t.tp), otelgrpc.WithPropagators(t.prop), otelgrpc.WithFilter(notHealth)))}
}

// untracedPaths are HTTP paths that get no span: probes and scrapes.
var untracedPaths = map[string]bool{"/healthz": true, "/metrics": true}

// HTTPHandler returns h with a server span for each REST request,
// continuing a trace the caller sent in traceparent; h itself when off.
// /healthz and /metrics are not traced.
func (t *Telemetry) HTTPHandler(h http.Handler) http.Handler {
	if !t.Enabled() {
		return h
	}
	return otelhttp.NewHandler(h, "arcgate.rest",
		otelhttp.WithTracerProvider(t.tp),
		otelhttp.WithPropagators(t.prop),
		otelhttp.WithFilter(func(r *http.Request) bool { return !untracedPaths[r.URL.Path] }),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }),
	)
}

// Transport returns base (http.DefaultTransport when nil) with a client
// span for each upstream request and W3C trace context in its headers;
// base itself when off. The span records the method, scheme, host, port,
// path and status code, never the query string, headers or bodies: they
// can carry the token (the query string of a GET to a site that ignores
// the token header).
func (t *Telemetry) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	if !t.Enabled() {
		return base
	}
	return &transport{base: base, tracer: t.tp.Tracer(instrumentation), prop: t.prop}
}

// transport is the tracing http.RoundTripper of Transport.
type transport struct {
	base   http.RoundTripper
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
}

// RoundTrip implements http.RoundTripper. The span ends when the response
// body is read to its end or closed.
func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", r.Method),
		attribute.String("url.scheme", r.URL.Scheme),
		attribute.String("server.address", r.URL.Hostname()),
		attribute.String("url.path", r.URL.Path),
	}
	if p, err := strconv.Atoi(r.URL.Port()); err == nil {
		attrs = append(attrs, attribute.Int("server.port", p))
	}
	ctx, span := t.tracer.Start(r.Context(), r.Method,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	r = r.Clone(ctx) // a RoundTripper must not modify the caller's request
	t.prop.Inject(ctx, propagation.HeaderCarrier(r.Header))
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		// The error's text may hold the URL, and so the token: only its
		// type is recorded.
		span.SetAttributes(attribute.String("error.type", errorType(err)))
		span.SetStatus(codes.Error, "transport error")
		span.End()
		return nil, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	if resp.StatusCode >= 400 {
		span.SetAttributes(attribute.String("error.type", strconv.Itoa(resp.StatusCode)))
		span.SetStatus(codes.Error, "")
	}
	if resp.Body == nil || resp.Body == http.NoBody {
		span.End()
		return resp, nil
	}
	resp.Body = &spanBody{ReadCloser: resp.Body, span: span}
	return resp, nil
}

// errorType names an error's kind for the error.type attribute without its
// text: context errors by name, others by Go type.
func errorType(err error) string {
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline_exceeded"
	}
	return fmt.Sprintf("%T", err)
}

// spanBody ends its span when the body is read to its end or closed.
type spanBody struct {
	io.ReadCloser
	span trace.Span
	once sync.Once
}

func (b *spanBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.end()
	}
	return n, err
}

func (b *spanBody) Close() error {
	err := b.ReadCloser.Close()
	b.end()
	return err
}

func (b *spanBody) end() { b.once.Do(func() { b.span.End() }) }

// InProcessInterceptors returns the interceptor that traces the REST
// gateway's in-process calls of the gRPC services (server.InProcess), which
// cross no gRPC transport for otelgrpc to see: one internal span per call,
// named as otelgrpc names its spans, a child of the REST request's span.
// None when off.
func (t *Telemetry) InProcessInterceptors() []grpc.UnaryServerInterceptor {
	if !t.Enabled() {
		return nil
	}
	tracer := t.tp.Tracer(instrumentation)
	return []grpc.UnaryServerInterceptor{func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		ctx, span := startInProcessSpan(ctx, tracer, info.FullMethod)
		resp, err := next(ctx, req)
		endInProcessSpan(span, err)
		return resp, err
	}}
}

// InProcessStreamInterceptors is InProcessInterceptors for the gateway's
// in-process server-streaming calls: one internal span per stream.
func (t *Telemetry) InProcessStreamInterceptors() []grpc.StreamServerInterceptor {
	if !t.Enabled() {
		return nil
	}
	tracer := t.tp.Tracer(instrumentation)
	return []grpc.StreamServerInterceptor{func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
		ctx, span := startInProcessSpan(ss.Context(), tracer, info.FullMethod)
		err := next(srv, &spanStream{ServerStream: ss, ctx: ctx})
		endInProcessSpan(span, err)
		return err
	}}
}

// spanStream is a ServerStream whose context carries the call's span.
type spanStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *spanStream) Context() context.Context { return s.ctx }

// startInProcessSpan starts the internal span of an in-process call.
func startInProcessSpan(ctx context.Context, tracer trace.Tracer, fullMethod string) (context.Context, trace.Span) {
	name := strings.TrimPrefix(fullMethod, "/")
	svc, method, _ := strings.Cut(name, "/")
	return tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(
		attribute.String("rpc.system", "grpc"), attribute.String("rpc.service", svc), attribute.String("rpc.method", method)))
}

// endInProcessSpan records the call's code and ends its span.
func endInProcessSpan(span trace.Span, err error) {
	code := status.Code(err)
	span.SetAttributes(attribute.Int("rpc.grpc.status_code", int(code)))
	if err != nil {
		span.SetStatus(codes.Error, code.String()) // the code only: messages may name caller input
	}
	span.End()
}
