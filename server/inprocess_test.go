package server

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// fallbackConn records the calls InProcess passes on.
type fallbackConn struct{ invoked, streamed []string }

func (f *fallbackConn) Invoke(_ context.Context, method string, _, _ any, _ ...grpc.CallOption) error {
	f.invoked = append(f.invoked, method)
	return nil
}

func (f *fallbackConn) NewStream(_ context.Context, _ *grpc.StreamDesc, method string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
	f.streamed = append(f.streamed, method)
	return nil, errors.New("no streams here")
}

func TestInProcess(t *testing.T) {
	t.Parallel()
	var seen struct {
		md     metadata.MD
		peer   string
		method string
		order  []string
	}
	outer := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		seen.order = append(seen.order, "outer")
		seen.md, _ = metadata.FromIncomingContext(ctx)
		if p, ok := peer.FromContext(ctx); ok {
			seen.peer = p.Addr.String()
		}
		seen.method, _ = grpc.Method(ctx)
		_ = grpc.SetHeader(ctx, metadata.Pairs("x-request-id", "r1"))
		_ = grpc.SetTrailer(ctx, metadata.Pairs("x-trailer", "t1"))
		return next(ctx, req)
	}
	inner := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		seen.order = append(seen.order, "inner")
		if req.(*grpc_health_v1.HealthCheckRequest).GetService() == "refuse" {
			return nil, errors.New("plain error")
		}
		return next(ctx, req)
	}
	fb := &fallbackConn{}
	p := NewInProcess(outer, inner)
	p.SetFallback(fb)
	hs := health.NewServer()
	hs.SetServingStatus("svc", grpc_health_v1.HealthCheckResponse_NOT_SERVING)
	grpc_health_v1.RegisterHealthServer(p, hs)
	client := grpc_health_v1.NewHealthClient(p)

	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-api-key", "k")
	var header, trailer metadata.MD
	resp, err := client.Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: "svc"}, grpc.Header(&header), grpc.Trailer(&trailer))
	if err != nil || resp.GetStatus() != grpc_health_v1.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("Check = %v, %v", resp, err)
	}
	if got := seen.md.Get("x-api-key"); len(got) != 1 || got[0] != "k" {
		t.Errorf("incoming metadata %v", seen.md)
	}
	if seen.peer != "inprocess" || seen.method != "/grpc.health.v1.Health/Check" || len(seen.order) != 2 || seen.order[0] != "outer" {
		t.Errorf("peer %q, method %q, order %v", seen.peer, seen.method, seen.order)
	}
	if header.Get("x-request-id")[0] != "r1" || trailer.Get("x-trailer")[0] != "t1" {
		t.Errorf("header %v, trailer %v", header, trailer)
	}
	// A status error passes as is; another error becomes a status, as the
	// gRPC server makes it.
	if _, err := client.Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: "unknown"}); status.Code(err) != codes.NotFound {
		t.Errorf("unknown service: %v", err)
	}
	if _, err := client.Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: "refuse"}); status.Code(err) != codes.Unknown {
		t.Errorf("plain error: %v", err)
	}
	// A peer in the caller's context is kept.
	pctx := peer.NewContext(ctx, &peer.Peer{Addr: InProcessAddr})
	if _, err := client.Check(pctx, &grpc_health_v1.HealthCheckRequest{Service: "svc"}); err != nil {
		t.Error(err)
	}
	// Streams and methods not registered go to the fallback.
	_, _ = client.Watch(ctx, &grpc_health_v1.HealthCheckRequest{})
	_ = p.Invoke(ctx, "/other.Service/Method", &grpc_health_v1.HealthCheckRequest{}, &grpc_health_v1.HealthCheckResponse{})
	if len(fb.streamed) != 1 || len(fb.invoked) != 1 || fb.invoked[0] != "/other.Service/Method" {
		t.Errorf("fallback got streams %v, calls %v", fb.streamed, fb.invoked)
	}
	// A reply of the wrong type is refused, not filled.
	if err := p.Invoke(ctx, "/grpc.health.v1.Health/Check", &grpc_health_v1.HealthCheckRequest{}, &grpc_health_v1.HealthListRequest{}); status.Code(err) != codes.Internal {
		t.Errorf("mismatched reply: %v", err)
	}
}
