package idempotency

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
// a repeat from the record. Compare ns/op with bare for the ratio; the
// noop runs measure the interceptor's own cost around a handler that does
// nothing.
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
	run := func(b *testing.B, ic grpc.UnaryServerInterceptor, fresh bool, handler grpc.UnaryHandler) {
		for i := 0; b.Loop(); i++ {
			n := i
			if !fresh {
				n = 0
			}
			ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(MetadataKey, id(n)))
			if _, err := ic(ctx, update(), info, handler); err != nil {
				b.Fatal(err)
			}
		}
	}
	opts := Options{IsMutation: func(string) bool { return true }}
	bare := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		return next(ctx, req)
	}
	redisStore := func(b *testing.B) statestore.Store {
		srv := testredis.Start(b)
		store, err := statestore.Open(context.Background(), srv.URL(0))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = store.Close() })
		return store
	}
	b.Run("write/bare", func(b *testing.B) { run(b, bare, true, handler) })
	b.Run("write/memory", func(b *testing.B) { run(b, Interceptor(statestore.NewMemory(), opts), true, handler) })
	b.Run("write/redis", func(b *testing.B) { run(b, Interceptor(redisStore(b), opts), true, handler) })
	// The interceptor's own cost, around a handler that does nothing.
	b.Run("noop/bare", func(b *testing.B) { run(b, bare, true, noop) })
	b.Run("noop/memory", func(b *testing.B) { run(b, Interceptor(statestore.NewMemory(), opts), true, noop) })
	b.Run("noop/redis", func(b *testing.B) { run(b, Interceptor(redisStore(b), opts), true, noop) })
	b.Run("replay/memory", func(b *testing.B) { run(b, Interceptor(statestore.NewMemory(), opts), false, handler) })
}
