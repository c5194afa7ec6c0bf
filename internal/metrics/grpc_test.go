package metrics

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// TestGRPCMetricsAsTheProvider checks that the gRPC metrics recorded by
// Metrics' interceptors are those go-grpc-middleware's Prometheus provider
// records (which they replace): the same families, help, types, series
// (pre-registered ones included) and counts, for unary calls that succeed
// and fail and a server stream. Both sets of interceptors serve the same
// calls; the handling-time histograms are compared by sample count and
// buckets (the times differ).
func TestGRPCMetricsAsTheProvider(t *testing.T) {
	m := New()
	ref := grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(grpcprom.WithHistogramBuckets(latencyBuckets)))
	refReg := prometheus.NewRegistry()
	refReg.MustRegister(ref)

	s := grpc.NewServer(
		grpc.ChainUnaryInterceptor(append(m.UnaryInterceptors(), ref.UnaryServerInterceptor(grpcprom.WithExemplarFromContext(exemplar)))...),
		grpc.ChainStreamInterceptor(append(m.StreamInterceptors(), ref.StreamServerInterceptor(grpcprom.WithExemplarFromContext(exemplar)))...))
	grpc_health_v1.RegisterHealthServer(s, health.NewServer())
	m.InitializeMetrics(s)
	ref.InitializeMetrics(s)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(lis) }()
	defer func() { s.Stop(); <-done }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc := grpc_health_v1.NewHealthClient(conn)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := hc.Check(ctx, &grpc_health_v1.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := hc.Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: "no.such.Service"}); status.Code(err) != codes.NotFound {
			t.Fatalf("Check(unknown) = %v, want NotFound", err)
		}
	}
	wctx, wcancel := context.WithCancel(ctx)
	stream, err := hc.Watch(wctx, &grpc_health_v1.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	wcancel()
	// The stream ends on the server after the client went; ours is the
	// outer interceptor, so once it counted the end, the provider has too.
	for {
		got := dump(t, m.Registry())
		if strings.Contains(got, `grpc_server_handled_total{grpc_code="Canceled",grpc_method="Watch",grpc_service="grpc.health.v1.Health",grpc_type="server_stream"} 1`) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the Watch stream's end was not counted:\n%s", got)
		}
		time.Sleep(5 * time.Millisecond)
	}
	got, want := dump(t, m.Registry()), dump(t, refReg)
	if got != want {
		t.Errorf("gRPC metrics differ from the provider's:\n--- ours\n%s\n--- provider\n%s", got, want)
	}
	if !strings.Contains(got, `grpc_server_msg_sent_total{grpc_method="Watch",grpc_service="grpc.health.v1.Health",grpc_type="server_stream"} 1`) ||
		!strings.Contains(got, `grpc_server_handled_total{grpc_code="NotFound",grpc_method="Check",grpc_service="grpc.health.v1.Health",grpc_type="unary"} 2`) {
		t.Errorf("expected series missing:\n%s", got)
	}
}

// dump writes the grpc_server_* families of reg, one line per series:
// help and type of each family, counter values, histogram sample counts
// and buckets.
func dump(t *testing.T, reg prometheus.Gatherer) string {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, f := range fams {
		if !strings.HasPrefix(f.GetName(), "grpc_server_") {
			continue
		}
		lines = append(lines, fmt.Sprintf("# %s %s %s", f.GetName(), f.GetType(), f.GetHelp()))
		for _, s := range f.GetMetric() {
			var labels []string
			for _, l := range s.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			series := f.GetName() + "{" + strings.Join(labels, ",") + "}"
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				lines = append(lines, fmt.Sprintf("%s %v", series, s.GetCounter().GetValue()))
			case dto.MetricType_HISTOGRAM:
				var bounds []string
				for _, b := range s.GetHistogram().GetBucket() {
					bounds = append(bounds, fmt.Sprint(b.GetUpperBound()))
				}
				lines = append(lines, fmt.Sprintf("%s count %d buckets %s", series, s.GetHistogram().GetSampleCount(), strings.Join(bounds, " ")))
			default:
				lines = append(lines, series+" unexpected type")
			}
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
