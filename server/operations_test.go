package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
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

// A StartService operation's read-back must not join a read of the
// service that was in flight before the start (it would answer the state
// before the start, and wait for it): the upstream client's count of
// writes and the lock's fresh reads both see to it. Here a GetService's read of the definition is held
// while the operation starts the service; the operation must finish,
// answering STARTED, with that read still held.
func TestOperationReadBackIsFresh(t *testing.T) {
	const svc = "/arcgis/admin/services/World.MapServer"
	gate := make(chan struct{})
	var openOnce sync.Once
	open := func() { openOnce.Do(func() { close(gate) }) }
	t.Cleanup(open)
	var reads atomic.Int32
	var started atomic.Bool
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
		switch r.URL.Path {
		case svc:
			if reads.Add(1) == 1 {
				<-gate
			}
			_, _ = io.WriteString(w, `{"serviceName":"World","type":"MapServer"}`)
		case svc + "/status":
			state := "STOPPED"
			if started.Load() {
				state = "STARTED"
			}
			_, _ = io.WriteString(w, `{"configuredState":"`+state+`","realTimeState":"`+state+`"}`)
		case svc + "/start":
			started.Store(true)
			_, _ = io.WriteString(w, `{"status":"success"}`)
		default:
			_, _ = io.WriteString(w, `{"status":"error","messages":["not found"],"code":404}`)
		}
	}))
	t.Cleanup(ts.Close)
	up, err := upstream.New(ts.URL+"/arcgis", upstream.WithHTTPClient(ts.Client()), upstream.WithTokenSource(upstream.StaticToken("t")))
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	ops := operations.New(statestore.NewMemory(), operations.Options{})
	defer func() { _ = ops.Shutdown(context.Background()) }()
	s := &servicesServer{services: up.Services, locks: statestore.NewMemory(), ops: ops}
	const name = "services/World.MapServer"
	ctx := context.Background()

	got := make(chan error, 1)
	go func() {
		_, err := s.GetService(ctx, &adminv1.GetServiceRequest{Name: name})
		got <- err
	}()
	waitUntil(t, func() bool { return reads.Load() == 1 }) // the read is held upstream
	op, err := s.StartService(ctx, &adminv1.StartServiceRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	// Not a timing assertion: the operation either finishes, or waits for
	// the held read as long as it is held (then it is let go at the end).
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for err == nil && !op.GetDone() {
		op, err = operations.NewServer(ops).WaitOperation(wctx, &longrunningpb.WaitOperationRequest{Name: op.GetName()})
	}
	if err != nil || !op.GetDone() {
		open()
		t.Fatalf("the operation did not finish while an older read of the service was held (%v): its read-back joined that read", err)
	}
	svcOut := &adminv1.Service{}
	if op.GetError() != nil || op.GetResponse().UnmarshalTo(svcOut) != nil || svcOut.GetRealTimeState() != adminv1.ServiceState_SERVICE_STATE_STARTED {
		t.Fatalf("operation %v; want the service STARTED", op)
	}
	open()
	if err := <-got; err != nil {
		t.Fatalf("GetService: %v", err)
	}
}
