package rpc

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/arcgate/arcgate/idempotency"
	"github.com/arcgate/arcgate/statestore"
)

// ChainConfig configures NewChain.
type ChainConfig struct {
	// ObserveUnary and ObserveStream run outermost on both paths, so that
	// they see every call with the code it ends with, refused ones
	// included (metrics).
	ObserveUnary  []grpc.UnaryServerInterceptor
	ObserveStream []grpc.StreamServerInterceptor
	// InProcessUnary and InProcessStream run outermost on the in-process
	// path only (tracing of the REST gateway's calls; gRPC calls are
	// traced by a stats handler of the gRPC server).
	InProcessUnary  []grpc.UnaryServerInterceptor
	InProcessStream []grpc.StreamServerInterceptor
	// Logger receives the call log lines, panics, audit lines and refused
	// calls (default: discard).
	Logger *slog.Logger
	// DefaultTimeout is the deadline of unary calls that carry none
	// (zero: DefaultTimeout; negative: none).
	DefaultTimeout time.Duration
	// Guard configures caller authentication, scopes, rate limits, the
	// open-call cap and audit (NewGuard); its Logger defaults to Logger.
	Guard GuardConfig
	// DelegatedAuth says whether callers may act upstream as themselves.
	DelegatedAuth DelegatedAuth
	// Store, when set, keeps the first outcome of each mutation that
	// carries a request_id (or an Idempotency-Key), for RequestIDTTL
	// (zero: idempotency.DefaultTTL), so that a retry gets that outcome
	// instead of a second upstream write (package idempotency).
	Store        statestore.Store
	RequestIDTTL time.Duration
}

// Chain is the ordered list of interceptors every call of arcgate's gRPC
// services runs through, whether it arrives over gRPC (ServerOptions) or
// from the REST gateway in process (InProcess). The order, outermost
// first, is set here and nowhere else:
//
//  1. ChainConfig.Observe*: metrics
//  2. request id and the call's log line (requestid.go, interceptors.go)
//  3. panic recovery (interceptors.go; unary calls: unaryCore below)
//  4. the default deadline, unary calls only (unaryCore below)
//  5. the Guard (scopes.go): caller authentication (auth.go), rate limits
//     (ratelimit.go), scopes, the open-call cap (concurrency.go), audit
//     (audit.go), refused calls (rejectlog.go)
//  6. delegated upstream identities (identity.go)
//  7. retried mutations (package idempotency, with ChainConfig.Store):
//     innermost, so that refused calls never reach the store and the
//     kept outcome is the handler's own
//
// In process, ChainConfig.InProcess* run before 1.
type Chain struct {
	guard           *Guard
	unary           []grpc.UnaryServerInterceptor
	stream          []grpc.StreamServerInterceptor
	inProcessUnary  []grpc.UnaryServerInterceptor
	inProcessStream []grpc.StreamServerInterceptor
}

// NewChain builds the chain of cfg. It fails when the Guard's
// configuration does (NewGuard).
func NewChain(cfg ChainConfig) (*Chain, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Guard.Logger == nil {
		cfg.Guard.Logger = cfg.Logger
	}
	timeout := cfg.DefaultTimeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	guard, err := NewGuard(cfg.Guard)
	if err != nil {
		return nil, err
	}
	calls := callLogger{log: cfg.Logger}
	_, recoverStream := recovery(cfg.Logger)
	_, delegatedStream := DelegatedAuthInterceptors(cfg.DelegatedAuth)

	core := &unaryCore{calls: calls, log: cfg.Logger, timeout: timeout, guard: guard, delegation: delegation{mode: cfg.DelegatedAuth}}
	if cfg.Store != nil {
		core.idempotency = idempotency.Interceptor(cfg.Store, idempotency.Options{
			TTL: cfg.RequestIDTTL, Caller: callerID, Logger: cfg.Logger,
		})
	}
	c := &Chain{guard: guard}
	c.unary = append(c.unary, cfg.ObserveUnary...)
	c.unary = append(c.unary, core.intercept)
	c.stream = append(c.stream, cfg.ObserveStream...)
	c.stream = append(c.stream, calls.stream, recoverStream, guard.StreamInterceptor, delegatedStream)
	c.inProcessUnary = append(append(c.inProcessUnary, cfg.InProcessUnary...), c.unary...)
	c.inProcessStream = append(append(c.inProcessStream, cfg.InProcessStream...), c.stream...)
	return c, nil
}

// unaryCore runs stages 2 to 7 of the chain (see Chain) for a unary call
// as one interceptor: each stage calls the next directly, so that a call
// allocates no handler closure per stage and its goroutine's stack holds
// fewer frames (grpc-go starts each call on a fresh goroutine, whose stack
// grows by copying). The stages: the request id and the log line
// (callLogger.logCall), panic recovery (as recovery does for streams), the
// default deadline, the Guard (as Guard.UnaryInterceptor), delegation (as
// DelegatedAuthInterceptors) and request ids of mutations (package
// idempotency).
type unaryCore struct {
	calls       callLogger
	log         *slog.Logger // panics
	timeout     time.Duration
	guard       *Guard
	delegation  delegation
	idempotency grpc.UnaryServerInterceptor // nil without ChainConfig.Store
}

// intercept is stage 2, the request id and the call's log line.
func (c *unaryCore) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	ctx = withRequestID(ctx)
	resp, err := c.recovered(ctx, req, info, handler)
	setRequestIDHeader(ctx)
	c.calls.logCall(ctx, info.FullMethod, start, err)
	return resp, err
}

// recovered is stages 3 and 4: a panic below becomes INTERNAL (as
// recovery), and a call without a deadline gets the default one.
func (c *unaryCore) recovered(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	outer := ctx
	defer func() {
		if p := recover(); p != nil {
			resp, err = nil, panicked(outer, c.log, info.FullMethod)
		}
	}()
	if c.timeout > 0 {
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, c.timeout)
			defer cancel()
		}
	}
	return c.guard.unary(ctx, req, info, handler, c.inner)
}

// inner is stages 6 and 7, run by the Guard once it lets the call in:
// delegation for arcgate's own methods, then request ids.
func (c *unaryCore) inner(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if strings.HasPrefix(info.FullMethod, delegatedMethodPrefix) {
		var err error
		if ctx, err = c.delegation.context(ctx); err != nil {
			return nil, err
		}
	}
	if c.idempotency != nil {
		return c.idempotency(ctx, req, info, handler)
	}
	return handler(ctx, req)
}

// callerID names the caller of a call for the request-id records: its
// identity from the callers file ("" when there is none: anonymous).
func callerID(ctx context.Context) string {
	c, _ := CallerFrom(ctx)
	return c.ID
}

// Guard returns the chain's Guard.
func (c *Chain) Guard() *Guard { return c.guard }

// Unary returns the unary interceptors of a gRPC call, outermost first.
func (c *Chain) Unary() []grpc.UnaryServerInterceptor { return c.unary }

// Stream returns the stream interceptors of a gRPC call, outermost first.
func (c *Chain) Stream() []grpc.StreamServerInterceptor { return c.stream }

// ServerOptions returns the gRPC server options that install the chain:
// the interceptors and the Guard's tap handle, which caps each caller's
// open calls before a request message is read.
func (c *Chain) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(c.unary...),
		grpc.ChainStreamInterceptor(c.stream...),
		grpc.InTapHandle(c.guard.TapHandle),
	}
}

// InProcess returns a new in-process connection whose calls run through
// the chain (with ChainConfig.InProcess* outermost). Register the
// services on it.
func (c *Chain) InProcess() *InProcess {
	p := NewInProcess(c.inProcessUnary...)
	p.SetStreamInterceptors(c.inProcessStream...)
	return p
}
