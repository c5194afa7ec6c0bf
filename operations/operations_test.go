package operations

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/internal/testredis"
	"github.com/arcgate/arcgate/statestore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// storeKinds opens, for a test, a pair of stores that share their state
// as two arcgate processes would: one Memory (both sides), or two clients
// of one fresh Redis.
var storeKinds = []struct {
	name string
	open func(t *testing.T) (a, b statestore.Store)
}{
	{"memory", func(t *testing.T) (statestore.Store, statestore.Store) {
		m := statestore.NewMemory()
		return m, m
	}},
	{"redis", func(t *testing.T) (statestore.Store, statestore.Store) {
		srv := testredis.Start(t)
		open := func() statestore.Store {
			s, err := statestore.Open(context.Background(), srv.URL(0))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		}
		return open(), open()
	}},
}

// forEachStore runs f on each kind of store.
func forEachStore(t *testing.T, f func(t *testing.T, a, b statestore.Store)) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			a, b := k.open(t)
			f(t, a, b)
		})
	}
}

// newManager returns a Manager on store, shut down at the test's end.
func newManager(t *testing.T, store statestore.Store, opts Options) *Manager {
	t.Helper()
	m := New(store, opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return m
}

// waitDone waits (up to 20 s) for operation name to be done, through s.
func waitDone(t *testing.T, s *Server, name string) *longrunningpb.Operation {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		op, err := s.WaitOperation(ctx, &longrunningpb.WaitOperationRequest{Name: name, Timeout: durationpb.New(5 * time.Second)})
		if err != nil {
			t.Fatalf("WaitOperation(%s): %v", name, err)
		}
		if op.GetDone() {
			return op
		}
	}
}

// opError returns a done operation's error as a status, and its ErrorInfo
// reason.
func opError(t *testing.T, op *longrunningpb.Operation) (*status.Status, string) {
	t.Helper()
	if op.GetError() == nil {
		t.Fatalf("operation %s has no error: %v", op.GetName(), op)
	}
	st := status.FromProto(op.GetError())
	return st, reasonOf(st)
}

func metadataOf(t *testing.T, op *longrunningpb.Operation) *adminv1.OperationMetadata {
	t.Helper()
	md := &adminv1.OperationMetadata{}
	if err := op.GetMetadata().UnmarshalTo(md); err != nil {
		t.Fatal(err)
	}
	return md
}

func errReason(err error) string { return reasonOf(status.Convert(err)) }

// TestStartDetachesFromCaller: a StartService-like operation whose
// upstream is slow, started by a caller with a short deadline that ends
// (here: is cancelled) right after Start: Start returns at once with an
// operation that is not done, the work still completes, once, and
// WaitOperation returns it done with the work's response.
func TestStartDetachesFromCaller(t *testing.T) {
	forEachStore(t, func(t *testing.T, a, _ statestore.Store) {
		m := newManager(t, a, Options{})
		s := NewServer(m)
		release := make(chan struct{})
		var calls atomic.Int32
		var workErr atomic.Value
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		op, err := m.Start(ctx, Spec{Target: "services/Roads.MapServer", Verb: "start"}, func(ctx context.Context, p Progress) (proto.Message, error) {
			calls.Add(1)
			<-release // the slow upstream
			if err := ctx.Err(); err != nil {
				workErr.Store(err)
			}
			return wrapperspb.String("STARTED"), nil
		})
		cancel() // the caller is gone
		if err != nil {
			t.Fatal(err)
		}
		if op.GetDone() {
			t.Fatal("Start returned a done operation")
		}
		md := metadataOf(t, op)
		if md.GetTarget() != "services/Roads.MapServer" || md.GetVerb() != "start" || md.GetCreateTime() == nil || md.GetEndTime() != nil {
			t.Errorf("metadata = %v", md)
		}
		got, err := s.GetOperation(context.Background(), &longrunningpb.GetOperationRequest{Name: op.GetName()})
		if err != nil || got.GetDone() {
			t.Fatalf("GetOperation while running = %v, %v", got, err)
		}
		close(release)
		done := waitDone(t, s, op.GetName())
		var resp wrapperspb.StringValue
		if err := done.GetResponse().UnmarshalTo(&resp); err != nil || resp.GetValue() != "STARTED" {
			t.Fatalf("response = %v (%v), want STARTED", done.GetResponse(), err)
		}
		if md := metadataOf(t, done); md.GetEndTime() == nil {
			t.Errorf("done operation has no end_time: %v", md)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("work ran %d times, want 1", n)
		}
		if e := workErr.Load(); e != nil {
			t.Errorf("the work's context ended with the caller's: %v", e)
		}
	})
}

// TestTimeoutIsOutcomeUnknown: work that outlasts the operation's timeout
// ends DEADLINE_EXCEEDED with the reason UPSTREAM_OUTCOME_UNKNOWN.
func TestTimeoutIsOutcomeUnknown(t *testing.T) {
	tests := []struct {
		name string
		err  func(ctx context.Context) error
	}{
		{"context error", func(ctx context.Context) error { return ctx.Err() }},
		{"status error", func(context.Context) error { return status.Error(codes.Unavailable, "upstream: deadline") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newManager(t, statestore.NewMemory(), Options{})
			s := NewServer(m)
			op, err := m.Start(context.Background(), Spec{Target: "services/A.MapServer", Verb: "start", Timeout: 20 * time.Millisecond},
				func(ctx context.Context, _ Progress) (proto.Message, error) {
					<-ctx.Done()
					return nil, tc.err(ctx)
				})
			if err != nil {
				t.Fatal(err)
			}
			st, reason := opError(t, waitDone(t, s, op.GetName()))
			if st.Code() != codes.DeadlineExceeded || reason != reasonOutcomeUnknown {
				t.Errorf("error = %v (reason %q), want DEADLINE_EXCEEDED, %s", st, reason, reasonOutcomeUnknown)
			}
		})
	}
}

// TestWorkOutcomes: the work's error or response is the operation's.
func TestWorkOutcomes(t *testing.T) {
	tests := []struct {
		name     string
		resp     proto.Message
		err      error
		wantCode codes.Code
		wantResp bool
	}{
		{"status error kept", nil, status.Error(codes.NotFound, "no such service"), codes.NotFound, false},
		{"plain error", nil, errors.New("boom"), codes.Unknown, false},
		{"nil response is Empty", nil, nil, codes.OK, true},
		{"response", wrapperspb.Bool(true), nil, codes.OK, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newManager(t, statestore.NewMemory(), Options{})
			s := NewServer(m)
			op, err := m.Start(context.Background(), Spec{Target: "t", Verb: "v"}, func(context.Context, Progress) (proto.Message, error) {
				return tc.resp, tc.err
			})
			if err != nil {
				t.Fatal(err)
			}
			done := waitDone(t, s, op.GetName())
			if tc.wantResp {
				if done.GetResponse() == nil {
					t.Fatalf("no response: %v", done)
				}
				return
			}
			if st, _ := opError(t, done); st.Code() != tc.wantCode {
				t.Errorf("code = %v, want %v", st.Code(), tc.wantCode)
			}
		})
	}
}

// TestWorkPanicIsInternal: a panicking work fails its operation, not the
// process.
func TestWorkPanicIsInternal(t *testing.T) {
	m := newManager(t, statestore.NewMemory(), Options{})
	op, err := m.Start(context.Background(), Spec{Target: "t", Verb: "v"}, func(context.Context, Progress) (proto.Message, error) {
		panic("bad")
	})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := opError(t, waitDone(t, NewServer(m), op.GetName())); st.Code() != codes.Internal {
		t.Errorf("code = %v, want INTERNAL", st.Code())
	}
}

// TestProgressRecorded: what the work reports shows in the metadata, on
// another replica too.
func TestProgressRecorded(t *testing.T) {
	forEachStore(t, func(t *testing.T, a, b statestore.Store) {
		m := newManager(t, a, Options{ProgressInterval: 10 * time.Millisecond})
		other := NewServer(newManager(t, b, Options{}))
		release := make(chan struct{})
		op, err := m.Start(context.Background(), Spec{Target: "t", Verb: "start"}, func(_ context.Context, p Progress) (proto.Message, error) {
			p.SetUpstreamJob("j1")
			p.SetUpstreamState(strings.Repeat("x", 5000)) // clipped
			for i := range 5 {
				p.SetUpstreamState(fmt.Sprintf("step %d", i))
			}
			<-release
			return nil, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			got, err := other.GetOperation(context.Background(), &longrunningpb.GetOperationRequest{Name: op.GetName()})
			if err != nil {
				t.Fatal(err)
			}
			md := metadataOf(t, got)
			if md.GetUpstreamState() == "step 4" && md.GetUpstreamJobId() == "j1" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("progress never recorded: %v", md)
			}
			time.Sleep(10 * time.Millisecond)
		}
		close(release)
		waitDone(t, other, op.GetName())
	})
}

// TestKilledRunnerFinishedAsOutcomeUnknown: an arcgate process (Manager A)
// dies while its operation runs; another (B), sharing the store, reports
// the operation done with UNAVAILABLE and the reason
// UPSTREAM_OUTCOME_UNKNOWN once A's lease lapsed, and a new operation on
// the same target runs.
func TestKilledRunnerFinishedAsOutcomeUnknown(t *testing.T) {
	forEachStore(t, func(t *testing.T, a, b statestore.Store) {
		lease := Options{LeaseTTL: 2 * time.Second, LeaseRenew: 200 * time.Millisecond}
		ma := New(a, lease)
		mb := newManager(t, b, lease)
		sb := NewServer(mb)
		started := make(chan struct{})
		op, err := ma.Start(context.Background(), Spec{Target: "services/Roads.MapServer", Verb: "start"}, func(ctx context.Context, _ Progress) (proto.Message, error) {
			close(started)
			<-ctx.Done()
			return nil, ctx.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
		<-started
		// While A lives, B sees the operation running.
		got, err := sb.GetOperation(context.Background(), &longrunningpb.GetOperationRequest{Name: op.GetName()})
		if err != nil || got.GetDone() {
			t.Fatalf("GetOperation on B while A runs it = %v, %v", got, err)
		}
		ma.kill()
		done := waitDone(t, sb, op.GetName())
		st, reason := opError(t, done)
		if st.Code() != codes.Unavailable || reason != reasonOutcomeUnknown {
			t.Errorf("error = %v (reason %q), want UNAVAILABLE, %s", st, reason, reasonOutcomeUnknown)
		}
		if md := metadataOf(t, done); md.GetEndTime() == nil {
			t.Errorf("no end_time: %v", md)
		}
		// The outcome stays: a second read gives the same.
		again, err := sb.GetOperation(context.Background(), &longrunningpb.GetOperationRequest{Name: op.GetName()})
		if err != nil || !proto.Equal(again, done) {
			t.Errorf("second read = %v, %v; want %v", again, err, done)
		}
		// A new operation on the target runs on B.
		op2, err := mb.Start(context.Background(), Spec{Target: "services/Roads.MapServer", Verb: "start"}, func(ctx context.Context, _ Progress) (proto.Message, error) {
			held, unlock, err := b.Lock(ctx, "services/Roads.MapServer")
			if err != nil {
				return nil, err
			}
			defer unlock()
			return wrapperspb.String("STARTED"), held.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
		if d := waitDone(t, sb, op2.GetName()); d.GetError() != nil {
			t.Errorf("new operation failed: %v", d.GetError())
		}
	})
}

// TestShutdown: Shutdown refuses new operations and, when its context
// ends first, records the running ones as outcome unknown.
func TestShutdown(t *testing.T) {
	store := statestore.NewMemory()
	m := New(store, Options{})
	op, err := m.Start(context.Background(), Spec{Target: "t", Verb: "v"}, func(ctx context.Context, _ Progress) (proto.Message, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown = %v, want context.Canceled", err)
	}
	if _, err := m.Start(context.Background(), Spec{Target: "t", Verb: "v"}, func(context.Context, Progress) (proto.Message, error) { return nil, nil }); status.Code(err) != codes.Unavailable || errReason(err) != reasonShuttingDown {
		t.Errorf("Start after Shutdown = %v, want UNAVAILABLE, SHUTTING_DOWN", err)
	}
	got, err := NewServer(New(store, Options{})).GetOperation(context.Background(), &longrunningpb.GetOperationRequest{Name: op.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if st, reason := opError(t, got); st.Code() != codes.Unavailable || reason != reasonOutcomeUnknown {
		t.Errorf("error = %v (reason %q), want UNAVAILABLE, %s", st, reason, reasonOutcomeUnknown)
	}
}

// TestMaxRunning: Start refuses more than MaxRunning operations at once.
func TestMaxRunning(t *testing.T) {
	m := newManager(t, statestore.NewMemory(), Options{MaxRunning: 1})
	release := make(chan struct{})
	defer close(release)
	work := func(context.Context, Progress) (proto.Message, error) { <-release; return nil, nil }
	if _, err := m.Start(context.Background(), Spec{Target: "t", Verb: "v"}, work); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Start(context.Background(), Spec{Target: "t", Verb: "v"}, work); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("second Start = %v, want RESOURCE_EXHAUSTED", err)
	}
}

// TestStartRefusesBadSpec: a Start without target, verb or work is a
// programming error, INTERNAL, and runs nothing.
func TestStartRefusesBadSpec(t *testing.T) {
	m := newManager(t, statestore.NewMemory(), Options{})
	work := func(context.Context, Progress) (proto.Message, error) { return nil, nil }
	for _, tc := range []struct {
		spec Spec
		work Work
	}{{Spec{Verb: "v"}, work}, {Spec{Target: "t"}, work}, {Spec{Target: "t", Verb: "v"}, nil}} {
		if _, err := m.Start(context.Background(), tc.spec, tc.work); status.Code(err) != codes.Internal {
			t.Errorf("Start(%+v) = %v, want INTERNAL", tc.spec, err)
		}
	}
}

// checkBadRequest checks that err is INVALID_ARGUMENT naming field.
func checkBadRequest(t *testing.T, err error, field string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("error = %v, want INVALID_ARGUMENT", err)
	}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) == 1 && br.GetFieldViolations()[0].GetField() == field {
			return
		}
	}
	t.Errorf("error %v names no field %q", err, field)
}

// TestClip: progress strings are bounded, and stay valid UTF-8.
func TestClip(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"STARTING", "STARTING"},
		{strings.Repeat("x", 5000), strings.Repeat("x", maxProgressLen)},
		{strings.Repeat("x", maxProgressLen-1) + "é", strings.Repeat("x", maxProgressLen-1)},
	} {
		if got := clip(tc.in); got != tc.want {
			t.Errorf("clip(%d bytes) = %d bytes, want %d", len(tc.in), len(got), len(tc.want))
		}
	}
}
