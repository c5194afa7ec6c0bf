package e2e

import (
	"strings"
	"testing"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/simulator"
)

// TestCancelOperationBeforeItsWrite: operation A (a stop, run by the site
// as a job that lasts until the test advances the clock) holds the
// service's lock; operation B (an update of the same service) waits for
// it. B is cancellable: CancelOperation(B) answers OK and B ends CANCELLED
// (code 1) saying nothing was written. A, whose upstream request was sent,
// is not: CancelOperation(A) is FAILED_PRECONDITION saying so, and A
// completes. The simulator received A's write only, and the lock is free
// afterwards (a start of the service completes).
func TestCancelOperationBeforeItsWrite(t *testing.T) {
	clock := newJobClock()
	e := start(t, simulator.Config{AsyncExecution: true, SystemJobDuration: asyncJobLen, Clock: clock.Now})
	c := ctx(t)
	ops := longrunningpb.NewOperationsClient(e.conn)
	const name = "services/SampleWorldCities.MapServer"
	metadata := func(op *longrunningpb.Operation) *adminv1.OperationMetadata {
		t.Helper()
		md := &adminv1.OperationMetadata{}
		if err := op.GetMetadata().UnmarshalTo(md); err != nil {
			t.Fatal(err)
		}
		return md
	}
	cancel := func(op *longrunningpb.Operation) error {
		_, err := ops.CancelOperation(c, &longrunningpb.CancelOperationRequest{Name: op.GetName()})
		return err
	}
	before := len(e.sim.Requests())

	a, err := e.services.StopService(c, &adminv1.StopServiceRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	followRunning(t, c, e, a, "machine '") // its write was sent: the job runs
	if a, err = ops.GetOperation(c, &longrunningpb.GetOperationRequest{Name: a.GetName()}); err != nil {
		t.Fatal(err)
	}
	if md := metadata(a); md.GetCancellable() {
		t.Errorf("operation A, whose write was sent, has metadata %v, want not cancellable", md)
	}
	err = cancel(a)
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(status.Convert(err).Message(), "was sent") {
		t.Errorf("CancelOperation(A, write sent) = %v, want FAILED_PRECONDITION saying the upstream request was sent", err)
	}

	b, err := e.services.UpdateService(c, &adminv1.UpdateServiceRequest{
		Service:    &adminv1.Service{Name: name, Description: "cancelled"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if md := metadata(b); !md.GetCancellable() {
		t.Errorf("operation B, waiting for the lock, has metadata %v, want cancellable", md)
	}
	if err := cancel(b); err != nil {
		t.Fatalf("CancelOperation(B, waiting for the lock) = %v, want OK", err)
	}
	if b, err = waitDone(c, e.conn, b); err != nil {
		t.Fatal(err)
	}
	if got := b.GetError(); got.GetCode() != int32(codes.Canceled) || !strings.Contains(got.GetMessage(), "nothing was written") {
		t.Errorf("operation B ended with %v, want code 1 (CANCELLED) saying nothing was written", got)
	}
	if md := metadata(b); md.GetCancellable() || !md.GetRequestedCancellation() {
		t.Errorf("operation B's metadata %v, want requested_cancellation, not cancellable", md)
	}
	if err := cancel(b); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("CancelOperation(B, done) = %v, want FAILED_PRECONDITION", err)
	}

	clock.Advance(asyncJobLen) // A's job ends
	if a, err = waitDone(c, e.conn, a); err != nil {
		t.Fatal(err)
	}
	if a.GetError() != nil {
		t.Fatalf("operation A ended with %v, want its response", a.GetError())
	}
	if md := metadata(a); md.GetRequestedCancellation() {
		t.Errorf("operation A's metadata %v, want no requested_cancellation", md)
	}

	stops, edits := 0, 0
	for _, r := range e.sim.Requests()[before:] {
		switch {
		case strings.HasSuffix(r.Path, "/SampleWorldCities.MapServer/stop"):
			stops++
		case strings.HasSuffix(r.Path, "/SampleWorldCities.MapServer/edit"):
			edits++
		}
	}
	if stops != 1 || edits != 0 {
		t.Errorf("the upstream received %d stops and %d edits, want A's stop only", stops, edits)
	}

	// Nothing holds the lock: a start goes through.
	s, err := e.services.StartService(c, &adminv1.StartServiceRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	followRunning(t, c, e, s, "machine '")
	clock.Advance(asyncJobLen)
	if _, err := done[adminv1.Service](c, e.conn)(s, nil); err != nil {
		t.Fatalf("StartService after the cancellation: %v", err)
	}
}
