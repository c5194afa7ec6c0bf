package idempotency

import (
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/server"
	"github.com/arcgate/arcgate/simulator"
	"github.com/arcgate/arcgate/statestore"
	"github.com/arcgate/arcgate/upstream"
)

// TestRetriedWriteReachesUpstreamOnce runs arcgate's real StopService in
// front of the simulator, with the interceptor covering it (its request
// id sent as idempotency-key metadata, as the REST gateway forwards
// Idempotency-Key): a write retried with its request id reaches the
// upstream once, by the simulator's request log, also when the first
// caller disconnected while the upstream request was in flight.
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
	srv := server.New(up, server.WithLocker(store))
	gs := grpc.NewServer(grpc.UnaryInterceptor(Interceptor(store, Options{IsMutation: func(m string) bool { return m == method }})))
	srv.Register(gs)
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
	stop := func(ctx context.Context, id string) (bool, error) {
		var hdr metadata.MD
		_, err := client.StopService(metadata.AppendToOutgoingContext(ctx, MetadataKey, id),
			&adminv1.StopServiceRequest{Name: svcName}, grpc.Header(&hdr))
		return len(hdr.Get(ReplayHeader)) > 0, err
	}

	t.Run("repeat", func(t *testing.T) {
		sim.ResetRequests()
		for i := range 3 {
			replay, err := stop(context.Background(), idA)
			if err != nil || replay != (i > 0) {
				t.Errorf("call %d: replay %v, %v", i, replay, err)
			}
		}
		if n := stops(); n != 1 {
			t.Errorf("%d stop requests reached the upstream, want 1", n)
		}
	})

	t.Run("first caller gone mid-call", func(t *testing.T) {
		sim.ResetRequests()
		// The upstream holds the stop request a while, then serves it
		// (unless its client goes first).
		sim.InjectFault(simulator.Fault{Kind: simulator.FaultLatency, Path: stopPath, Delay: 300 * time.Millisecond})
		defer sim.ClearFaults()
		ctx, cancel := context.WithCancel(context.Background())
		first := make(chan error, 1)
		go func() { _, err := stop(ctx, idB); first <- err }()
		for sim.FaultHits(stopPath) == 0 { // the stop request is at the upstream
			time.Sleep(time.Millisecond)
		}
		cancel()
		if err := <-first; status.Code(err) != codes.Canceled {
			t.Fatalf("first call: %v, want CANCELED", err)
		}
		replay, err := stop(context.Background(), idB)
		if err != nil || !replay {
			t.Errorf("retry: replay %v, %v; want the first call's outcome", replay, err)
		}
		if n := stops(); n != 1 {
			t.Errorf("%d stop requests reached the upstream, want 1", n)
		}
	})
}
