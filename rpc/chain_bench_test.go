package rpc

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/internal/metrics"
	"github.com/arcgate/arcgate/statestore"
)

// benchReads is a ServicesService whose reads do nothing: what a call
// costs around it is the chain's (and the transport's).
type benchReads struct {
	adminv1.UnimplementedServicesServiceServer
}

var benchListing = &adminv1.ListServicesResponse{}

func (benchReads) ListServices(context.Context, *adminv1.ListServicesRequest) (*adminv1.ListServicesResponse, error) {
	return benchListing, nil
}

// BenchmarkChain measures what the interceptor chain adds to a read
// (ListServices) around a handler that does nothing, configured as
// internal/app configures it: metrics outermost, a request-id store, no
// rate limit. "interceptors" calls the composed unary chain directly with
// the context a gRPC call's handler would get; "inprocess" is a REST call's
// path (rpc.InProcess); "grpc" a call over a loopback connection (client
// included). "noauth" is arcgate-bench's configuration (no caller
// authentication, no per-caller cap); "apikey" authenticates an API key
// with the default per-caller cap. "discard" logs nowhere (as
// arcgate-bench); "json" writes the call's log line as the JSON handler
// of cmd/arcgate does, to io.Discard.
//
//	go test -run '^$' -bench Chain -benchmem ./rpc/
func BenchmarkChain(b *testing.B) {
	const method = "/arcgate.admin.v1.ServicesService/ListServices"
	creds, err := ParseCredentials(strings.NewReader(testCallersFile()))
	if err != nil {
		b.Fatal(err)
	}
	for _, auth := range []string{"noauth", "apikey"} {
		for _, logs := range []string{"discard", "json"} {
			log := slog.New(slog.DiscardHandler)
			if logs == "json" {
				log = slog.New(slog.NewJSONHandler(io.Discard, nil))
			}
			guard := GuardConfig{InsecureNoCallerAuth: true, RateLimit: NoRateLimit, MaxConcurrentPerCaller: -1}
			var md []string
			if auth == "apikey" {
				guard = GuardConfig{Credentials: creds, RateLimit: NoRateLimit}
				md = []string{"x-api-key", readKey}
			}
			m := metrics.New()
			chain, err := NewChain(ChainConfig{
				ObserveUnary: m.UnaryInterceptors(), ObserveStream: m.StreamInterceptors(),
				Logger: log, Guard: guard, Store: statestore.NewMemory(),
			})
			if err != nil {
				b.Fatal(err)
			}
			name := auth + "/" + logs
			b.Run("interceptors/"+name, func(b *testing.B) {
				ic := chainUnary(chain.Unary())
				info := &grpc.UnaryServerInfo{Server: benchReads{}, FullMethod: method}
				handler := func(ctx context.Context, req any) (any, error) {
					return benchReads{}.ListServices(ctx, req.(*adminv1.ListServicesRequest))
				}
				base := peer.NewContext(metadata.NewIncomingContext(context.Background(), metadata.Pairs(md...)),
					&peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}})
				st := &inProcessStream{method: method}
				ctx := grpc.NewContextWithServerTransportStream(base, st)
				req := &adminv1.ListServicesRequest{Parent: "folders/Bulk"}
				b.ReportAllocs()
				for b.Loop() {
					st.header = nil // what a call's stream holds is its own
					if _, err := ic(ctx, req, info, handler); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("inprocess/"+name, func(b *testing.B) {
				ip := chain.InProcess()
				adminv1.RegisterServicesServiceServer(ip, benchReads{})
				svc := adminv1.NewServicesServiceClient(ip)
				ctx := metadata.NewOutgoingContext(context.Background(), metadata.Pairs(md...))
				b.ReportAllocs()
				for b.Loop() {
					var header metadata.MD
					if _, err := svc.ListServices(ctx, &adminv1.ListServicesRequest{Parent: "folders/Bulk"}, grpc.Header(&header)); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("grpc/"+name, func(b *testing.B) {
				srv := grpc.NewServer(chain.ServerOptions()...)
				adminv1.RegisterServicesServiceServer(srv, benchReads{})
				lis, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					b.Fatal(err)
				}
				done := make(chan struct{})
				go func() { defer close(done); _ = srv.Serve(lis) }()
				defer func() { srv.Stop(); <-done }()
				conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
				if err != nil {
					b.Fatal(err)
				}
				defer conn.Close()
				svc := adminv1.NewServicesServiceClient(conn)
				ctx := metadata.NewOutgoingContext(context.Background(), metadata.Pairs(md...))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := svc.ListServices(ctx, &adminv1.ListServicesRequest{Parent: "folders/Bulk"}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
