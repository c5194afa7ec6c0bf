package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/internal/testredis"
	"github.com/arcgate/arcgate/operations"
	"github.com/arcgate/arcgate/simulator"
	"github.com/arcgate/arcgate/statestore"
	"github.com/arcgate/arcgate/upstream"
)

// holdingUpstream serves a simulator, holding the requests whose path
// ends with suffix, from the from-th one on, until release is closed (or
// the client gives up); arrived gets a value for each one held.
type holdingUpstream struct {
	sim     *simulator.Server
	suffix  string
	from    int
	arrived chan struct{}
	release chan struct{}

	mu   sync.Mutex
	seen int

	once sync.Once
}

// open lets the held requests go.
func (h *holdingUpstream) open() { h.once.Do(func() { close(h.release) }) }

func (h *holdingUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, h.suffix) {
		h.mu.Lock()
		h.seen++
		hold := h.seen >= h.from
		h.mu.Unlock()
		if hold {
			h.arrived <- struct{}{}
			select {
			case <-h.release:
			case <-r.Context().Done():
				return
			}
		}
	}
	h.sim.ServeHTTP(w, r)
}

// startHolding starts a simulator behind a holdingUpstream and returns an
// upstream client of it.
func startHolding(t *testing.T, suffix string, from int) (*holdingUpstream, *upstream.Client) {
	t.Helper()
	h := &holdingUpstream{sim: simulator.New(simulator.Config{}), suffix: suffix, from: from,
		arrived: make(chan struct{}, 10), release: make(chan struct{})}
	ts := httptest.NewServer(h)
	t.Cleanup(func() {
		h.open()
		ts.Close()
	})
	up, err := upstream.New(ts.URL+"/arcgis", upstream.WithHTTPClient(ts.Client()),
		upstream.WithCredentials(simulator.DefaultUsername, simulator.DefaultPassword))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(up.Close)
	return h, up
}

// waitArrived waits for a held request.
func waitArrived(t *testing.T, h *holdingUpstream) {
	t.Helper()
	select {
	case <-h.arrived:
	case <-time.After(20 * time.Second):
		t.Fatal("the held request never arrived")
	}
}

// writesTo counts the requests the simulator received whose path ends
// with suffix.
func writesTo(sim *simulator.Server, suffix string) int {
	n := 0
	for _, r := range sim.Requests() {
		if strings.HasSuffix(r.Path, suffix) {
			n++
		}
	}
	return n
}

// newTestManager returns an operations Manager on store that renews its
// leases (and sees cancellations made through another replica) every
// 50 ms, shut down at the test's end.
func newTestManager(t *testing.T, store statestore.Store) *operations.Manager {
	t.Helper()
	m := operations.New(store, operations.Options{LeaseTTL: 5 * time.Second, LeaseRenew: 50 * time.Millisecond, ProgressInterval: 10 * time.Millisecond})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = m.Shutdown(ctx)
	})
	return m
}

// waitOp waits (up to 20 s) for op to be done, through s.
func waitOp(t *testing.T, s *operations.Server, op *longrunningpb.Operation) *longrunningpb.Operation {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for !op.GetDone() {
		var err error
		if op, err = s.WaitOperation(ctx, &longrunningpb.WaitOperationRequest{Name: op.GetName()}); err != nil {
			t.Fatalf("WaitOperation(%s): %v", op.GetName(), err)
		}
	}
	return op
}

// wantCancelledBeforeWrite fails t unless op ended CANCELLED saying
// nothing was written.
func wantCancelledBeforeWrite(t *testing.T, op *longrunningpb.Operation) {
	t.Helper()
	if e := op.GetError(); e.GetCode() != int32(codes.Canceled) || !strings.Contains(e.GetMessage(), "nothing was written") {
		t.Errorf("operation ended with %v, want CANCELLED saying nothing was written", e)
	}
}

const cancelTestService = "services/SampleWorldCities.MapServer"

// An operation cancelled while it holds the service's lock and reads the
// service afresh (the read is held upstream) ends CANCELLED, sends no
// write and releases the lock: the next update goes through.
func TestCancelOperationHoldingItsLock(t *testing.T) {
	h, up := startHolding(t, "/SampleWorldCities.MapServer", 2) // the read under the lock, after the call's own
	ops := newTestManager(t, statestore.NewMemory())
	opsSrv := operations.NewServer(ops)
	s := &servicesServer{services: up.Services, locks: statestore.NewMemory(), ops: ops}
	ctx := context.Background()
	update := func(desc string) *longrunningpb.Operation {
		t.Helper()
		op, err := s.UpdateService(ctx, &adminv1.UpdateServiceRequest{Service: &adminv1.Service{Name: cancelTestService, Description: desc},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}}})
		if err != nil {
			t.Fatal(err)
		}
		return op
	}
	op := update("cancelled")
	waitArrived(t, h)
	if _, err := opsSrv.CancelOperation(ctx, &longrunningpb.CancelOperationRequest{Name: op.GetName()}); err != nil {
		t.Fatalf("CancelOperation(reading under the lock) = %v, want OK", err)
	}
	wantCancelledBeforeWrite(t, waitOp(t, opsSrv, op))
	h.mu.Lock()
	h.from = 1 << 30 // hold nothing more
	h.mu.Unlock()
	if op := waitOp(t, opsSrv, update("kept")); op.GetError() != nil {
		t.Fatalf("the update after the cancellation ended with %v", op.GetError())
	}
	if n := writesTo(h.sim, "/SampleWorldCities.MapServer/edit"); n != 1 {
		t.Errorf("the upstream received %d edits, want 1 (the second update's)", n)
	}
}

// Two replicas (operations Managers and locks on one store: a Memory, or
// two clients of one Redis): operation A, on replica 1, holds the
// service's lock while its upstream write is held; operation B, on
// replica 1 too, waits for the lock. Through replica 2, CancelOperation(A)
// is FAILED_PRECONDITION (its write was sent) and CancelOperation(B) is
// OK: B ends CANCELLED, A completes, and the upstream received A's write
// only.
func TestCancelWaitingOperationThroughAnotherReplica(t *testing.T) {
	for _, kind := range []string{"memory", "redis"} {
		t.Run(kind, func(t *testing.T) {
			var store1, store2 statestore.Store
			if kind == "memory" {
				m := statestore.NewMemory()
				store1, store2 = m, m
			} else {
				srv := testredis.Start(t)
				open := func() statestore.Store {
					s, err := statestore.Open(context.Background(), srv.URL(0))
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { _ = s.Close() })
					return s
				}
				store1, store2 = open(), open()
			}
			h, up := startHolding(t, "/SampleWorldCities.MapServer/stop", 1)
			ops1 := newTestManager(t, store1)
			here := operations.NewServer(ops1)
			there := operations.NewServer(newTestManager(t, store2))
			s := &servicesServer{services: up.Services, locks: store1, ops: ops1}
			ctx := context.Background()

			a, err := s.StopService(ctx, &adminv1.StopServiceRequest{Name: cancelTestService})
			if err != nil {
				t.Fatal(err)
			}
			waitArrived(t, h) // A's write was sent, and is held
			_, err = there.CancelOperation(ctx, &longrunningpb.CancelOperationRequest{Name: a.GetName()})
			if status.Code(err) != codes.FailedPrecondition || !strings.Contains(status.Convert(err).Message(), "was sent") {
				t.Errorf("CancelOperation(A, write sent) = %v, want FAILED_PRECONDITION saying the upstream request was sent", err)
			}

			b, err := s.UpdateService(ctx, &adminv1.UpdateServiceRequest{Service: &adminv1.Service{Name: cancelTestService, Description: "cancelled"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := there.CancelOperation(ctx, &longrunningpb.CancelOperationRequest{Name: b.GetName()}); err != nil {
				t.Fatalf("CancelOperation(B, waiting for the lock) = %v, want OK", err)
			}
			wantCancelledBeforeWrite(t, waitOp(t, there, b)) // while A still holds the lock
			h.open()
			if a := waitOp(t, here, a); a.GetError() != nil {
				t.Errorf("operation A ended with %v, want its response", a.GetError())
			}
			if stops, edits := writesTo(h.sim, "/SampleWorldCities.MapServer/stop"), writesTo(h.sim, "/SampleWorldCities.MapServer/edit"); stops != 1 || edits != 0 {
				t.Errorf("the upstream received %d stops and %d edits, want A's stop only", stops, edits)
			}
		})
	}
}
