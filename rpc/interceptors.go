package rpc

import (
	"context"
	"log/slog"
	"runtime/debug"
	"time"

	grpcrecovery "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// DefaultTimeout is the deadline given to unary calls that arrive without
// one (ChainConfig.DefaultTimeout). A smaller deadline set by the caller is
// kept, and propagates to the upstream requests through the context.
const DefaultTimeout = 15 * time.Second

// callLogger writes the one log line of every call (ChainConfig.Logger).
type callLogger struct{ log *slog.Logger }

// stream gives a streaming call its request id, runs it and logs it (for
// unary calls: unaryCore.intercept).
func (l callLogger) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	start := time.Now()
	ss = withRequestIDStream(ss)
	err := next(srv, ss)
	l.logCall(ss.Context(), info.FullMethod, start, err)
	return err
}

// logCall writes the "rpc" line of a call: Error for INTERNAL and UNKNOWN,
// Debug for a call the Guard refused (its "rpc rejected" line records
// it), else Info.
func (l callLogger) logCall(ctx context.Context, method string, start time.Time, err error) {
	code := status.Code(err)
	level := slog.LevelInfo
	switch {
	case code == codes.Internal || code == codes.Unknown:
		level = slog.LevelError
	case rejectedCall(ctx):
		level = slog.LevelDebug // the Guard's "rpc rejected" line records it
	}
	if !l.log.Enabled(ctx, level) {
		return
	}
	var buf [6]slog.Attr // on the stack: LogAttrs copies them
	attrs := append(buf[:0],
		slog.String("method", method),
		slog.String("code", code.String()),
		slog.Duration("duration", time.Since(start)),
		slog.String("request_id", RequestID(ctx)),
	)
	if caller := callerIdentity(ctx); caller != "" {
		attrs = append(attrs, slog.String("caller", caller))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", status.Convert(err).Message()))
	}
	l.log.LogAttrs(ctx, level, "rpc", attrs...)
}

// recovery returns go-grpc-middleware's recovery interceptors, which turn
// a handler's panic into INTERNAL. The panic value is not logged or
// returned (it could hold request data); the stack and the method are
// logged.
func recovery(log *slog.Logger) (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	handler := grpcrecovery.WithRecoveryHandlerContext(func(ctx context.Context, _ any) error {
		method, _ := grpc.Method(ctx)
		return panicked(ctx, log, method)
	})
	return grpcrecovery.UnaryServerInterceptor(handler), grpcrecovery.StreamServerInterceptor(handler)
}

// panicked logs a recovered panic of a call of method (the stack, never
// the panic value) and returns the call's INTERNAL error. Call it from the
// deferred function that recovered, so that the stack is the panic's.
func panicked(ctx context.Context, log *slog.Logger, method string) error {
	log.LogAttrs(ctx, slog.LevelError, "panic in handler", slog.String("method", method), slog.String("stack", string(debug.Stack())))
	return status.Error(codes.Internal, "internal error")
}
