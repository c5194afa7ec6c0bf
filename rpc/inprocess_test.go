package rpc

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
)

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
	p := NewInProcess(outer, inner)
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
	// Methods and streams not registered, and client streams, are
	// UNIMPLEMENTED, as a gRPC server answers.
	if _, err := p.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/other.Service/Stream"); status.Code(err) != codes.Unimplemented {
		t.Errorf("unknown stream: %v", err)
	}
	if _, err := p.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, "/grpc.health.v1.Health/Watch"); status.Code(err) != codes.Unimplemented {
		t.Errorf("client stream: %v", err)
	}
	if err := p.Invoke(ctx, "/other.Service/Method", &grpc_health_v1.HealthCheckRequest{}, &grpc_health_v1.HealthCheckResponse{}); status.Code(err) != codes.Unimplemented {
		t.Errorf("unknown method: %v", err)
	}
	// A reply of the wrong type is refused, not filled.
	if err := p.Invoke(ctx, "/grpc.health.v1.Health/Check", &grpc_health_v1.HealthCheckRequest{}, &grpc_health_v1.HealthListRequest{}); status.Code(err) != codes.Internal {
		t.Errorf("mismatched reply: %v", err)
	}
}

// A server-streaming call runs in process through the stream interceptors:
// metadata, peer and method reach them, the header comes with the first
// message, messages arrive in order, the caller's cancellation ends the
// handler, and an error ends the stream with its status.
func TestInProcessServerStreaming(t *testing.T) {
	t.Parallel()
	var seen struct {
		mu     sync.Mutex
		key    string
		peer   string
		method string
	}
	ic := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
		md, _ := metadata.FromIncomingContext(ss.Context())
		p, _ := peer.FromContext(ss.Context())
		m, _ := grpc.Method(ss.Context())
		seen.mu.Lock()
		seen.key, seen.peer, seen.method = strings.Join(md.Get("x-api-key"), ","), p.Addr.String(), m+"|"+info.FullMethod
		seen.mu.Unlock()
		if strings.Join(md.Get("x-api-key"), "") == "bad" {
			return status.Error(codes.Unauthenticated, "bad key")
		}
		_ = ss.SetHeader(metadata.Pairs("x-request-id", "s1"))
		err := next(srv, ss)
		ss.SetTrailer(metadata.Pairs("x-trailer", "t2"))
		return err
	}
	p := NewInProcess()
	p.SetStreamInterceptors(ic)
	hs := health.NewServer()
	hs.SetServingStatus("svc", grpc_health_v1.HealthCheckResponse_SERVING)
	grpc_health_v1.RegisterHealthServer(p, hs)
	client := grpc_health_v1.NewHealthClient(p)

	ctx, cancel := context.WithCancel(metadata.AppendToOutgoingContext(context.Background(), "x-api-key", "k"))
	var trailer metadata.MD
	stream, err := client.Watch(ctx, &grpc_health_v1.HealthCheckRequest{Service: "svc"}, grpc.Trailer(&trailer))
	if err != nil {
		t.Fatal(err)
	}
	header, err := stream.Header()
	if err != nil || strings.Join(header.Get("x-request-id"), "") != "s1" {
		t.Fatalf("Header = %v, %v", header, err)
	}
	for _, want := range []grpc_health_v1.HealthCheckResponse_ServingStatus{grpc_health_v1.HealthCheckResponse_SERVING, grpc_health_v1.HealthCheckResponse_NOT_SERVING} {
		resp, err := stream.Recv()
		if err != nil || resp.GetStatus() != want {
			t.Fatalf("Recv = %v, %v; want %v", resp, err, want)
		}
		hs.SetServingStatus("svc", grpc_health_v1.HealthCheckResponse_NOT_SERVING)
	}
	seen.mu.Lock()
	if seen.key != "k" || seen.peer != "inprocess" || seen.method != "/grpc.health.v1.Health/Watch|/grpc.health.v1.Health/Watch" {
		t.Errorf("interceptor saw key %q, peer %q, method %q", seen.key, seen.peer, seen.method)
	}
	seen.mu.Unlock()
	cancel()
	if _, err := stream.Recv(); status.Code(err) != codes.Canceled {
		t.Fatalf("Recv after cancel: %v", err)
	}
	waitUntil(t, func() bool { return stream.Trailer() != nil }) // the handler has returned
	if strings.Join(trailer.Get("x-trailer"), "") != "t2" || strings.Join(stream.Trailer().Get("x-trailer"), "") != "t2" {
		t.Errorf("trailer %v, %v", trailer, stream.Trailer())
	}

	// An error from the interceptors: the header is final at once (empty),
	// and the first Recv returns the status.
	bad := metadata.AppendToOutgoingContext(context.Background(), "x-api-key", "bad")
	stream, err = client.Watch(bad, &grpc_health_v1.HealthCheckRequest{Service: "svc"})
	if err != nil {
		t.Fatal(err)
	}
	if h, err := stream.Header(); err != nil || len(h) != 0 {
		t.Fatalf("Header after an error = %v, %v", h, err)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("Recv = %v, want Unauthenticated", err)
	}
}

// waitUntil polls cond (a test of concurrency, not of time).
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 2000 && !cond(); i++ {
		time.Sleep(time.Millisecond)
	}
	if !cond() {
		t.Fatal("gave up waiting")
	}
}

// handOver is a ServicesService whose ListServices changes its request
// and answers a response it keeps.
type handOver struct {
	adminv1.UnimplementedServicesServiceServer
	req  *adminv1.ListServicesRequest
	resp *adminv1.ListServicesResponse
}

func (h *handOver) ListServices(_ context.Context, req *adminv1.ListServicesRequest) (*adminv1.ListServicesResponse, error) {
	h.req = req
	req.PageToken = "changed by the handler"
	return h.resp, nil
}

// TestInProcessHandsOverShallowCopies checks what Invoke hands over: the
// handler gets its own top-level request, the caller its own top-level
// reply, with the same field values (unknown fields included), nested
// messages shared.
func TestInProcessHandsOverShallowCopies(t *testing.T) {
	t.Parallel()
	svc := &adminv1.Service{Name: "services/A.MapServer"}
	h := &handOver{resp: &adminv1.ListServicesResponse{Services: []*adminv1.Service{svc}, NextPageToken: "next"}}
	h.resp.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 99, protowire.VarintType), 7))
	p := NewInProcess()
	adminv1.RegisterServicesServiceServer(p, h)
	req := &adminv1.ListServicesRequest{Parent: "folders/Maps", PageSize: 5}
	got, err := adminv1.NewServicesServiceClient(p).ListServices(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if h.req == req || h.req.GetParent() != "folders/Maps" || h.req.GetPageSize() != 5 {
		t.Errorf("handler's request %v (same message: %t), want a copy of %v", h.req, h.req == req, req)
	}
	if req.GetPageToken() != "" {
		t.Errorf("the handler's change reached the caller's request: %v", req)
	}
	if got == h.resp || !proto.Equal(got, h.resp) || string(got.ProtoReflect().GetUnknown()) != string(h.resp.ProtoReflect().GetUnknown()) {
		t.Fatalf("reply %v (same message: %t), want a copy of %v", got, got == h.resp, h.resp)
	}
	if got.GetServices()[0] != svc {
		t.Error("nested messages were copied, want them shared")
	}
	got.NextPageToken = "changed by the caller"
	if h.resp.GetNextPageToken() != "next" {
		t.Errorf("the caller's change reached the handler's response: %v", h.resp)
	}
	// proto.Size, Marshal and Equal work on the copies.
	if _, err := proto.Marshal(got); err != nil {
		t.Fatal(err)
	}
}
