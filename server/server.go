package server

import (
	"context"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/statestore"
	"github.com/arcgate/arcgate/upstream"
)

// DefaultTimeout is the deadline given to unary calls that arrive without
// one. A smaller deadline set by the caller is kept, and propagates to the
// upstream requests through the context.
const DefaultTimeout = 15 * time.Second

// Server holds arcgate's gRPC services.
type Server struct {
	up      *upstream.Client
	log     *slog.Logger
	timeout time.Duration
	locks   statestore.Locker // serialises the writes to one resource (locks.go)

	jobPollMin, jobPollMax time.Duration // WatchJob poll intervals (watch.go)

	watchStop     chan struct{} // closed by StopWatches
	watchStopOnce sync.Once
}

// Option configures a Server.
type Option func(*Server)

// WithLogger sets the logger for per-call log lines (default: discard).
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithDefaultTimeout sets the deadline of unary calls that carry none
// (default DefaultTimeout; 0 or less disables it).
func WithDefaultTimeout(d time.Duration) Option { return func(s *Server) { s.timeout = d } }

// WithLocker sets the locks that serialise the read-modify-writes of one
// upstream resource (default: statestore.NewMemory, which serialises the
// writes made through this Server only).
func WithLocker(l statestore.Locker) Option { return func(s *Server) { s.locks = l } }

// New returns a Server whose services call up.
func New(up *upstream.Client, opts ...Option) *Server {
	s := &Server{up: up, log: slog.New(slog.DiscardHandler), timeout: DefaultTimeout, watchStop: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	if s.locks == nil {
		s.locks = statestore.NewMemory()
	}
	return s
}

// Register registers every arcgate service on r.
func (s *Server) Register(r grpc.ServiceRegistrar) {
	adminv1.RegisterServicesServiceServer(r, &servicesServer{up: s.up, locks: s.locks})
	adminv1.RegisterItemInfoServiceServer(r, &itemInfoServer{up: s.up, locks: s.locks})
	roles := newRolesServer(s.up)
	roles.locks = s.locks
	adminv1.RegisterRolesServiceServer(r, roles)
	reports := newUsageReportsServer(s.up)
	reports.locks = s.locks
	adminv1.RegisterUsageReportsServiceServer(r, reports)
	adminv1.RegisterJobsServiceServer(r, newJobsServer(s))
}

// StopWatches ends every WatchJob call in progress, and refuses every
// later one, with UNAVAILABLE (reason SHUTTING_DOWN) and a
// google.rpc.RetryInfo saying when to watch again. A watch never ends on
// its own before its job does, so a server shutting down calls this first:
// its drain then waits for the unary calls only. Safe to call more than
// once.
func (s *Server) StopWatches() {
	if s.watchStop != nil {
		s.watchStopOnce.Do(func() { close(s.watchStop) })
	}
}

// UnaryInterceptors are the unary interceptors arcgate's services need,
// outermost first: log one line per call, recover panics, apply the
// default deadline. Chain them on the gRPC server and on InProcess.
func (s *Server) UnaryInterceptors() []grpc.UnaryServerInterceptor {
	return []grpc.UnaryServerInterceptor{s.logUnary, s.recoverUnary, s.deadlineUnary}
}

// StreamInterceptors are the stream interceptors arcgate's services need,
// outermost first: log one line per call, recover panics.
func (s *Server) StreamInterceptors() []grpc.StreamServerInterceptor {
	return []grpc.StreamServerInterceptor{s.logStream, s.recoverStream}
}

func (s *Server) deadlineUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	if _, ok := ctx.Deadline(); !ok && s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	return next(ctx, req)
}

func (s *Server) logUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	start := time.Now()
	ctx = withRequestID(ctx)
	resp, err := next(ctx, req)
	setRequestIDHeader(ctx)
	s.logCall(ctx, info.FullMethod, start, err)
	return resp, err
}

func (s *Server) logStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	start := time.Now()
	ss = withRequestIDStream(ss)
	err := next(srv, ss)
	s.logCall(ss.Context(), info.FullMethod, start, err)
	return err
}

func (s *Server) logCall(ctx context.Context, method string, start time.Time, err error) {
	code := status.Code(err)
	level := slog.LevelInfo
	switch {
	case code == codes.Internal || code == codes.Unknown:
		level = slog.LevelError
	case rejectedCall(ctx):
		level = slog.LevelDebug // the Guard's "rpc rejected" line records it
	}
	attrs := []slog.Attr{
		slog.String("method", method),
		slog.String("code", code.String()),
		slog.Duration("duration", time.Since(start)),
		slog.String("request_id", RequestID(ctx)),
	}
	if caller := callerIdentity(ctx); caller != "" {
		attrs = append(attrs, slog.String("caller", caller))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", status.Convert(err).Message()))
	}
	s.log.LogAttrs(ctx, level, "rpc", attrs...)
}

// recovered turns a panic into INTERNAL. The panic value is not logged or
// returned (it could hold request data); the stack is logged.
func (s *Server) recovered(ctx context.Context, method string, err *error) {
	if r := recover(); r != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "panic in handler", slog.String("method", method), slog.String("stack", string(debug.Stack())))
		*err = status.Error(codes.Internal, "internal error")
	}
}

func (s *Server) recoverUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (resp any, err error) {
	defer s.recovered(ctx, info.FullMethod, &err)
	return next(ctx, req)
}

func (s *Server) recoverStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) (err error) {
	defer s.recovered(ss.Context(), info.FullMethod, &err)
	return next(srv, ss)
}
