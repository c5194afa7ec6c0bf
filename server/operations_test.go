package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/operations"
	"github.com/arcgate/arcgate/simulator"
	"github.com/arcgate/arcgate/statestore"
	"github.com/arcgate/arcgate/upstream"
)

// An operation whose upstream write succeeded but whose read-back keeps
// failing (every request after the start fails) ends saying the change
// was applied (reason WRITE_APPLIED, naming the service), after retrying
// the read, never as a failed write; the start reached the upstream once.
// Not parallel: it shortens readBackPause.
func TestOperationReadBackFailureSaysApplied(t *testing.T) {
	defer func(p time.Duration) { readBackPause = p }(readBackPause)
	readBackPause = time.Millisecond
	const name = "services/SampleWorldCities.MapServer"
	sim := simulator.New(simulator.Config{})
	var written atomic.Bool
	var starts, readsAfter atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if written.Load() && !strings.Contains(r.URL.Path, "generateToken") {
			readsAfter.Add(1)
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/start") {
			starts.Add(1)
			defer written.Store(true)
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	up, err := upstream.New(ts.URL+"/arcgis", upstream.WithHTTPClient(ts.Client()),
		upstream.WithCredentials(simulator.DefaultUsername, simulator.DefaultPassword),
		upstream.WithResilience(upstream.ResilienceConfig{InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	ops := operations.New(statestore.NewMemory(), operations.Options{})
	defer func() { _ = ops.Shutdown(context.Background()) }()
	s := &servicesServer{services: up.Services, locks: statestore.NewMemory(), ops: ops}
	ctx := context.Background()
	op, err := s.StartService(ctx, &adminv1.StartServiceRequest{Name: name})
	for err == nil && !op.GetDone() {
		op, err = operations.NewServer(ops).WaitOperation(ctx, &longrunningpb.WaitOperationRequest{Name: op.GetName()})
	}
	if err != nil {
		t.Fatal(err)
	}
	if op.GetError() == nil {
		t.Fatalf("operation %v succeeded although the read-back failed", op)
	}
	st := status.FromProto(op.GetError())
	var info *errdetails.ErrorInfo
	for _, d := range st.Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok {
			info = i
		}
	}
	if st.Code() == codes.OK || info.GetReason() != ReasonWriteApplied || info.GetMetadata()["resource"] != name || !strings.Contains(st.Message(), "was applied") {
		t.Fatalf("operation error %v %q (%v): want reason %s naming %s, saying the change was applied", st.Code(), st.Message(), info, ReasonWriteApplied, name)
	}
	if n := starts.Load(); n != 1 {
		t.Errorf("%d start requests upstream, want 1", n)
	}
	if n := readsAfter.Load(); n < int32(readBackAttempts) {
		t.Errorf("%d requests after the start, want the read-back tried %d times at least", n, readBackAttempts)
	}
}
