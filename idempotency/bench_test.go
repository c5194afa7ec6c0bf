package idempotency

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"

	"github.com/arcgate/arcgate/internal/testredis"
	"github.com/arcgate/arcgate/statestore"
)

// BenchmarkInterceptor measures what a request id adds to a write: each
// iteration is a fresh write (a new request id) whose handler makes one
// HTTP POST to a loopback server, as an upstream write would, for an
// UpdateService request. "bare" is
// the handler alone; "memory" and "redis" go through the interceptor
// (lock, record read, fingerprint, record write, unlock); "replay" answers
// a repeat from the record. Each run but the bare ones reports x-bare, its
// time as a ratio to that of its handler alone, measured in the same run,
// interleaved with it (the bare write for the writes and the replay, the
// bare noop for the noops). The noop runs measure the interceptor's own
// cost around a handler that does nothing.
//
//	go test -run '^$' -bench Interceptor -benchmem ./idempotency/
func BenchmarkInterceptor(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, `{"status":"success"}`)
	}))
	defer up.Close()
	client := up.Client()
	defer client.CloseIdleConnections()
	handler := func(ctx context.Context, req any) (any, error) {
		hr, err := http.NewRequestWithContext(ctx, http.MethodPost, up.URL+"/admin/services/a/edit", strings.NewReader("service=%7B%22name%22%3A%22a%22%7D&f=json"))
		if err != nil {
			return nil, err
		}
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := client.Do(hr)
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return proto.Clone(req.(*adminv1.UpdateServiceRequest).GetService()), nil
	}
	const method = "/arcgate.admin.v1.ServicesService/UpdateService"
	info := &grpc.UnaryServerInfo{FullMethod: method}
	id := func(i int) string { return fmt.Sprintf("%08x-0000-4000-8000-000000000000", i) }
	// UpdateService of a service with a few fields set, its request id in
	// metadata (UpdateServiceRequest has no request_id field yet).
	update := func() *adminv1.UpdateServiceRequest {
		return &adminv1.UpdateServiceRequest{
			Service: &adminv1.Service{Name: "services/Maps/Roads.MapServer", Description: "Roads of the region, updated nightly",
				Capabilities: []string{"Map", "Query", "Data"}, MinInstancesPerNode: 1, MaxInstancesPerNode: 4},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description", "max_instances_per_node"}},
		}
	}
	noop := func(_ context.Context, req any) (any, error) {
		return proto.Clone(req.(*adminv1.UpdateServiceRequest).GetService()), nil
	}
	passThrough := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		return next(ctx, req)
	}
	// run measures ic around handler; a nil ic is the bare run, the handler
	// alone. Any other run makes a bare call with each of its own, timed
	// apart, and reports x-bare: its time as a ratio to that of the bare
	// calls interleaved with it, the ratio of their medians. (Two runs one
	// after the other on a loaded machine see different loads, and a few
	// calls delayed by milliseconds weigh on a mean: the ratio of two ns/op
	// is noise there.) Its
	// ns/op, B/op and allocs/op are its own calls' only: the bare calls'
	// time is left out, and their allocations, measured apart after the
	// loop, taken out.
	run := func(b *testing.B, ic grpc.UnaryServerInterceptor, fresh bool, handler grpc.UnaryHandler) {
		call := func(ic grpc.UnaryServerInterceptor, i int) {
			if !fresh {
				i = 0
			}
			ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(MetadataKey, id(i)))
			if _, err := ic(ctx, update(), info, handler); err != nil {
				b.Fatal(err)
			}
		}
		if ic == nil {
			for i := 0; b.Loop(); i++ {
				call(passThrough, i)
			}
			return
		}
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		// The two calls swap places every iteration: the second of two
		// loopback requests in a row is the faster.
		var own, bare []time.Duration
		for i := 0; b.Loop(); i++ {
			first, second := passThrough, ic
			if i%2 == 1 {
				first, second = ic, passThrough
			}
			t0 := time.Now()
			call(first, i)
			t1 := time.Now()
			call(second, i)
			d0, d1 := t1.Sub(t0), time.Since(t1)
			if i%2 == 1 {
				d0, d1 = d1, d0
			}
			bare, own = append(bare, d0), append(own, d1)
		}
		runtime.ReadMemStats(&m1)
		const k = 100
		var m2, m3 runtime.MemStats
		runtime.ReadMemStats(&m2)
		for i := range k {
			call(passThrough, i)
		}
		runtime.ReadMemStats(&m3)
		n := float64(b.N)
		var sum time.Duration
		for _, d := range own {
			sum += d
		}
		b.ReportMetric(float64(sum.Nanoseconds())/n, "ns/op")
		b.ReportMetric(float64(median(own))/float64(median(bare)), "x-bare")
		b.ReportMetric(max(0, float64(m1.Mallocs-m0.Mallocs)/n-float64(m3.Mallocs-m2.Mallocs)/k), "allocs/op")
		b.ReportMetric(max(0, float64(m1.TotalAlloc-m0.TotalAlloc)/n-float64(m3.TotalAlloc-m2.TotalAlloc)/k), "B/op")
	}
	opts := Options{IsMutation: func(string) bool { return true }}
	redisStore := func(b *testing.B) statestore.Store {
		srv := testredis.Start(b)
		store, err := statestore.Open(context.Background(), srv.URL(0))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = store.Close() })
		return store
	}
	b.Run("write/bare", func(b *testing.B) { run(b, nil, true, handler) })
	b.Run("write/memory", func(b *testing.B) { run(b, Interceptor(statestore.NewMemory(), opts), true, handler) })
	b.Run("write/redis", func(b *testing.B) { run(b, Interceptor(redisStore(b), opts), true, handler) })
	// The interceptor's own cost, around a handler that does nothing.
	b.Run("noop/bare", func(b *testing.B) { run(b, nil, true, noop) })
	b.Run("noop/memory", func(b *testing.B) { run(b, Interceptor(statestore.NewMemory(), opts), true, noop) })
	b.Run("noop/redis", func(b *testing.B) { run(b, Interceptor(redisStore(b), opts), true, noop) })
	b.Run("replay/memory", func(b *testing.B) { run(b, Interceptor(statestore.NewMemory(), opts), false, handler) })
}

// median returns the median of ds, which it sorts.
func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}
