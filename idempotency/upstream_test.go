package idempotency

import (
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/operations"
	"github.com/arcgate/arcgate/server"
	"github.com/arcgate/arcgate/simulator"
	"github.com/arcgate/arcgate/statestore"
	"github.com/arcgate/arcgate/upstream"
)

// TestRetriedWriteReachesUpstreamOnce runs arcgate's real StopService in
// front of the simulator, with the interceptor covering it (its request
// id sent as idempotency-key metadata, as the REST gateway forwards
// Idempotency-Key): a write retried with its request id reaches the
// upstream once, by the simulator's request log. StopService returns a
// long-running operation at once: a retry while the first call's upstream
// request is still in flight gets the same operation.
func TestRetriedWriteReachesUpstreamOnce(t *testing.T) {
	const (
		svcName  = "services/SampleWorldCities.MapServer"
		stopPath = "services/SampleWorldCities.MapServer/stop"
		method   = "/arcgate.admin.v1.ServicesService/StopService"
	)
	sim := simulator.New(simulator.Config{})
	ts := httptest.NewServer(sim)
	defer ts.Close()
	up, err := upstream.New(ts.URL+"/arcgis", upstream.WithHTTPClient(ts.Client()),
		upstream.WithCredentials(simulator.DefaultUsername, simulator.DefaultPassword))
	if err != nil {
		t.Fatal(err)
	}
	store := statestore.NewMemory()
	ops := operations.New(store, operations.Options{})
	defer func() { _ = ops.Shutdown(context.Background()) }()
	srv := server.New(up, server.WithLocker(store), server.WithOperations(ops))
	gs := grpc.NewServer(grpc.UnaryInterceptor(Interceptor(store, Options{IsMutation: func(m string) bool { return m == method }})))
	srv.Register(gs)
	longrunningpb.RegisterOperationsServer(gs, operations.NewServer(ops))
	lis := bufconn.Listen(1 << 20)
	go func() { _ = gs.Serve(lis) }()
	defer gs.Stop()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := adminv1.NewServicesServiceClient(conn)
	stops := func() int {
		n := 0
		for _, r := range sim.Requests() {
			if strings.HasSuffix(r.Path, "/"+stopPath) {
				n++
			}
		}
		return n
	}
	opsClient := longrunningpb.NewOperationsClient(conn)
	// stop calls StopService and returns whether the answer was a replay,
	// the operation's name, and an error of the call or of the operation,
	// which it waits for.
	stop := func(ctx context.Context, id string) (bool, string, error) {
		var hdr metadata.MD
		op, err := client.StopService(metadata.AppendToOutgoingContext(ctx, MetadataKey, id),
			&adminv1.StopServiceRequest{Name: svcName}, grpc.Header(&hdr))
		replay := len(hdr.Get(ReplayHeader)) > 0
		for err == nil && !op.GetDone() {
			op, err = opsClient.WaitOperation(ctx, &longrunningpb.WaitOperationRequest{Name: op.GetName()})
		}
		if err == nil && op.GetError() != nil {
			err = status.ErrorProto(op.GetError())
		}
		return replay, op.GetName(), err
	}

	t.Run("repeat", func(t *testing.T) {
		sim.ResetRequests()
		for i := range 3 {
			replay, _, err := stop(context.Background(), idA)
			if err != nil || replay != (i > 0) {
				t.Errorf("call %d: replay %v, %v", i, replay, err)
			}
		}
		if n := stops(); n != 1 {
			t.Errorf("%d stop requests reached the upstream, want 1", n)
		}
	})

	t.Run("retry while the upstream request is in flight", func(t *testing.T) {
		sim.ResetRequests()
		// The upstream holds the stop request a while, then serves it.
		sim.InjectFault(simulator.Fault{Kind: simulator.FaultLatency, Path: stopPath, Delay: 300 * time.Millisecond})
		defer sim.ClearFaults()
		var hdr metadata.MD
		first, err := client.StopService(metadata.AppendToOutgoingContext(context.Background(), MetadataKey, idB),
			&adminv1.StopServiceRequest{Name: svcName}, grpc.Header(&hdr))
		if err != nil || first.GetDone() {
			t.Fatalf("first call: %v, %v; want the operation, not done", first, err)
		}
		for sim.FaultHits(stopPath) == 0 { // the stop request is at the upstream
			time.Sleep(time.Millisecond)
		}
		replay, name, err := stop(context.Background(), idB)
		if err != nil || !replay || name != first.GetName() {
			t.Errorf("retry: replay %v, operation %q, %v; want the first call's operation %q", replay, name, err, first.GetName())
		}
		if n := stops(); n != 1 {
			t.Errorf("%d stop requests reached the upstream, want 1", n)
		}
	})
}
