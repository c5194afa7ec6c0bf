package rpc

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
)

// panicValue is what chainProbe panics with; it must never be logged.
const panicValue = "Pangolin-secret-3319"

// chainProbe is a ServicesService whose GetService records what the
// chain put in its context, and panics for services/panic.MapServer.
type chainProbe struct {
	adminv1.UnimplementedServicesServiceServer
	mu          sync.Mutex
	caller      string
	requestID   string
	hasDeadline bool
}

func (p *chainProbe) GetService(ctx context.Context, req *adminv1.GetServiceRequest) (*adminv1.Service, error) {
	if req.GetName() == "services/panic.MapServer" {
		panic(panicValue)
	}
	c, _ := CallerFrom(ctx)
	_, dl := ctx.Deadline()
	p.mu.Lock()
	p.caller, p.requestID, p.hasDeadline = c.ID, RequestID(ctx), dl
	p.mu.Unlock()
	return &adminv1.Service{Name: req.GetName()}, nil
}

// TestChainOrder checks the order NewChain sets, on the gRPC server
// (ServerOptions) and in process (InProcess) alike: the observing
// interceptors (metrics) run outermost and see every call's final code,
// refused and panicking ones included; in process, the in-process ones
// run before them; the request id and the log line are outside the
// Guard, so a refused call has both; recovery is outside the handler;
// the Guard runs before delegation (a call without credentials is
// UNAUTHENTICATED even with delegated metadata the gateway refuses); the
// default deadline reaches the handler.
func TestChainOrder(t *testing.T) {
	var mu sync.Mutex
	var trace []string // "inproc", "observe <code> <request id seen>"
	note := func(s string) { mu.Lock(); trace = append(trace, s); mu.Unlock() }
	observe := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		seen := RequestID(ctx)
		resp, err := next(ctx, req)
		note("observe " + status.Code(err).String() + " " + seen)
		return resp, err
	}
	inproc := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		note("inproc")
		return next(ctx, req)
	}
	logs := &syncBuffer{}
	chain, err := NewChain(ChainConfig{
		ObserveUnary: []grpc.UnaryServerInterceptor{observe}, InProcessUnary: []grpc.UnaryServerInterceptor{inproc},
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Guard:  GuardConfig{Credentials: testCredentials(t)},
	})
	if err != nil {
		t.Fatal(err)
	}
	probe := &chainProbe{}

	srv := grpc.NewServer(chain.ServerOptions()...)
	adminv1.RegisterServicesServiceServer(srv, probe)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	defer func() { srv.Stop(); <-done }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ip := chain.InProcess()
	adminv1.RegisterServicesServiceServer(ip, probe)

	for _, path := range []struct {
		name   string
		cc     grpc.ClientConnInterface
		inproc bool
	}{{"grpc", conn, false}, {"in process", ip, true}} {
		t.Run(path.name, func(t *testing.T) {
			svc := adminv1.NewServicesServiceClient(path.cc)
			for _, tc := range []struct {
				name string
				md   []string
				svc  string
				want codes.Code
			}{
				{"refused by the Guard", nil, "A.MapServer", codes.Unauthenticated},
				{"Guard before delegation", []string{MetadataArcGISToken, "tok"}, "A.MapServer", codes.Unauthenticated},
				{"delegation after the Guard", []string{"x-api-key", readKey, MetadataArcGISToken, "tok"}, "A.MapServer", codes.InvalidArgument},
				{"panic recovered", []string{"x-api-key", readKey}, "panic.MapServer", codes.Internal},
				{"let in", []string{"x-api-key", readKey}, "A.MapServer", codes.OK},
			} {
				mu.Lock()
				trace = nil
				mu.Unlock()
				var header metadata.MD
				ctx := metadata.NewOutgoingContext(context.Background(), metadata.Pairs(tc.md...))
				_, err := svc.GetService(ctx, &adminv1.GetServiceRequest{Name: "services/" + tc.svc}, grpc.Header(&header))
				if status.Code(err) != tc.want {
					t.Fatalf("%s: %v, want %v", tc.name, err, tc.want)
				}
				ids := header.Get(RequestIDMetadata)
				if len(ids) != 1 {
					t.Fatalf("%s: response header %v has no request id", tc.name, header)
				}
				want := []string{"observe " + tc.want.String() + " "} // outside the request id
				if path.inproc {
					want = append([]string{"inproc"}, want...)
				}
				mu.Lock()
				got := strings.Join(trace, "|")
				mu.Unlock()
				if got != strings.Join(want, "|") {
					t.Errorf("%s: interceptors ran %q, want %q", tc.name, got, want)
				}
				if !strings.Contains(logs.String(), `"request_id":"`+ids[0]+`"`) {
					t.Errorf("%s: no log line with request id %s:\n%s", tc.name, ids[0], logs)
				}
				if tc.want == codes.OK {
					probe.mu.Lock()
					if probe.caller != "reader" || probe.requestID != ids[0] || !probe.hasDeadline {
						t.Errorf("handler saw caller %q, request id %q (want %q), deadline %t", probe.caller, probe.requestID, ids[0], probe.hasDeadline)
					}
					probe.mu.Unlock()
				}
			}
			var panicLine map[string]any
			for _, m := range logLines(t, logs.String()) {
				if m["msg"] == "panic in handler" {
					panicLine = m
				}
			}
			if panicLine == nil || panicLine["method"] != "/arcgate.admin.v1.ServicesService/GetService" || !strings.Contains(panicLine["stack"].(string), "chainProbe") {
				t.Errorf("panic line %v, want the method and the stack", panicLine)
			}
			if strings.Contains(logs.String(), panicValue) {
				t.Error("the panic value reached the log")
			}
		})
	}
}
