package operations

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/arcgate/arcgate/statestore"
)

// endCancelWhy is what the test works give EndCancel.
const endCancelWhy = "it passed the point of no return"

// endResult is what a gated work saw.
type endResult struct {
	cancelled bool
	err       error
	cause     error // the cause of the work's context when EndCancel returned
}

// startGated starts a Spec.Cancellable operation on m whose work waits
// until proceed is closed (or its context ends), then calls EndCancel and
// sends what it saw on the returned channel; it succeeds unless EndCancel
// said it was cancelled (then CANCELLED) or failed, once finish is closed.
func startGated(t *testing.T, m *Manager, proceed, finish <-chan struct{}) (string, <-chan endResult) {
	t.Helper()
	ended := make(chan endResult, 1)
	op, err := m.Start(context.Background(), Spec{Target: "services/S.MapServer", Verb: "start", Cancellable: true}, func(ctx context.Context, p Progress) (proto.Message, error) {
		select {
		case <-proceed:
		case <-ctx.Done():
		}
		cancelled, err := p.EndCancel(ctx, endCancelWhy)
		ended <- endResult{cancelled, err, context.Cause(ctx)}
		switch {
		case cancelled:
			return nil, status.Error(codes.Canceled, "cancelled before the write")
		case err != nil:
			return nil, err
		}
		<-finish
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if md := metadataOf(t, op); !md.GetCancellable() {
		t.Fatalf("a Spec.Cancellable operation starts with metadata %v, want cancellable", md)
	}
	return op.GetName(), ended
}

// TestEndCancel: a Spec.Cancellable operation is cancellable, through its
// own replica or another one, until its work calls EndCancel; EndCancel
// says whether a cancellation came first, also one accepted by another
// replica that the runner has not seen yet (its lease renewal, which
// would pick it up, is far off). A cancellation after EndCancel is
// FAILED_PRECONDITION with the work's reason, and the work completes.
func TestEndCancel(t *testing.T) {
	forEachStore(t, func(t *testing.T, a, b statestore.Store) {
		opts := Options{LeaseTTL: time.Minute, LeaseRenew: 30 * time.Second, ProgressInterval: 10 * time.Millisecond}
		m := newManager(t, a, opts)
		here, there := NewServer(m), NewServer(newManager(t, b, opts))
		ctx := context.Background()
		for _, tc := range []struct {
			name        string
			via         *Server
			cancelFirst bool
		}{
			{"cancel here, then end", here, true},
			{"cancel there, then end", there, true},
			{"end, then cancel here", here, false},
			{"end, then cancel there", there, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				proceed, finish := make(chan struct{}), make(chan struct{})
				name, ended := startGated(t, m, proceed, finish)
				cancel := func() error {
					_, err := tc.via.CancelOperation(ctx, &longrunningpb.CancelOperationRequest{Name: name})
					return err
				}
				var res endResult
				if tc.cancelFirst {
					if err := cancel(); err != nil {
						t.Fatalf("CancelOperation before EndCancel = %v, want OK", err)
					}
					close(proceed)
					res = <-ended
					if !res.cancelled || res.err != nil {
						t.Fatalf("EndCancel after a cancellation = %v, %v; want true", res.cancelled, res.err)
					}
					if tc.via == here && !errors.Is(res.cause, ErrCancelled) {
						t.Errorf("the work's context's cause = %v, want ErrCancelled", res.cause)
					}
				} else {
					close(proceed)
					res = <-ended
					if res.cancelled || res.err != nil {
						t.Fatalf("EndCancel without a cancellation = %v, %v; want false", res.cancelled, res.err)
					}
					err := cancel()
					if status.Code(err) != codes.FailedPrecondition || !strings.Contains(status.Convert(err).Message(), endCancelWhy) {
						t.Fatalf("CancelOperation after EndCancel = %v, want FAILED_PRECONDITION saying %q", err, endCancelWhy)
					}
				}
				close(finish)
				done := waitDone(t, tc.via, name)
				md := metadataOf(t, done)
				if tc.cancelFirst {
					if st, _ := opError(t, done); st.Code() != codes.Canceled {
						t.Errorf("error = %v, want CANCELLED", st)
					}
					if !md.GetRequestedCancellation() || md.GetCancellable() {
						t.Errorf("metadata = %v, want requested_cancellation and not cancellable", md)
					}
					return
				}
				if done.GetError() != nil || md.GetRequestedCancellation() || md.GetCancellable() {
					t.Errorf("operation %v, want a success, not cancellable, no requested_cancellation", done)
				}
			})
		}
	})
}

// TestEndCancelRace: EndCancel and CancelOperation (through either
// replica) at the same time agree: the cancellation succeeds exactly when
// EndCancel says it came first.
func TestEndCancelRace(t *testing.T) {
	forEachStore(t, func(t *testing.T, a, b statestore.Store) {
		opts := Options{LeaseTTL: time.Minute, LeaseRenew: 30 * time.Second, ProgressInterval: time.Millisecond}
		m := newManager(t, a, opts)
		here, there := NewServer(m), NewServer(newManager(t, b, opts))
		ctx := context.Background()
		var won, lost int
		finish := make(chan struct{})
		close(finish)
		for i := range 40 {
			via := here
			if i%2 == 1 {
				via = there
			}
			proceed := make(chan struct{})
			name, ended := startGated(t, m, proceed, finish)
			var cancelErr error
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, cancelErr = via.CancelOperation(ctx, &longrunningpb.CancelOperationRequest{Name: name})
			}()
			close(proceed)
			wg.Wait()
			res := <-ended
			if res.err != nil {
				t.Fatalf("EndCancel: %v", res.err)
			}
			if res.cancelled != (cancelErr == nil) || cancelErr != nil && status.Code(cancelErr) != codes.FailedPrecondition {
				t.Fatalf("round %d: EndCancel said cancelled=%v, CancelOperation answered %v", i, res.cancelled, cancelErr)
			}
			if res.cancelled {
				won++
			} else {
				lost++
			}
			done := waitDone(t, here, name)
			if got := done.GetError() != nil && status.FromProto(done.GetError()).Code() == codes.Canceled; got != res.cancelled {
				t.Fatalf("round %d: operation %v, cancelled=%v", i, done, res.cancelled)
			}
		}
		t.Logf("cancellation first %d times, EndCancel first %d times", won, lost)
	})
}
