package operations

import (
	"context"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/arcgate/arcgate/statestore"
)

// startN starts an operation per target; those whose index is in done
// finish at once, the others run until the test ends.
func startN(t *testing.T, m *Manager, targets []string, done map[int]bool) []string {
	t.Helper()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	var names []string
	for i, target := range targets {
		finish := done[i]
		op, err := m.Start(context.Background(), Spec{Target: target, Verb: "start"}, func(ctx context.Context, _ Progress) (proto.Message, error) {
			if !finish {
				<-release
			}
			return nil, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if finish {
			waitDone(t, NewServer(m), op.GetName())
		}
		names = append(names, op.GetName())
		time.Sleep(time.Millisecond) // distinct create times, for the order
	}
	return names
}

func TestListOperations(t *testing.T) {
	forEachStore(t, func(t *testing.T, a, _ statestore.Store) {
		m := newManager(t, a, Options{})
		s := NewServer(m)
		// Newest first: c (running), b (done), a (done), a (running).
		n := startN(t, m, []string{"services/A", "services/A", "services/B", "services/C"}, map[int]bool{1: true, 2: true})
		tests := []struct {
			filter string
			want   []string
		}{
			{"", []string{n[3], n[2], n[1], n[0]}},
			{`target="services/A"`, []string{n[1], n[0]}},
			{`target = "services/A" AND done=true`, []string{n[1]}},
			{`done=false`, []string{n[3], n[0]}},
			{`verb="start" AND done=true`, []string{n[2], n[1]}},
			{`verb="stop"`, nil},
		}
		for _, tc := range tests {
			t.Run(tc.filter, func(t *testing.T) {
				// Page by one, two and all.
				for _, size := range []int32{1, 2, 0} {
					var got []string
					token := ""
					for range 10 {
						resp, err := s.ListOperations(context.Background(), &longrunningpb.ListOperationsRequest{Filter: tc.filter, PageSize: size, PageToken: token})
						if err != nil {
							t.Fatal(err)
						}
						for _, op := range resp.GetOperations() {
							got = append(got, op.GetName())
						}
						if token = resp.GetNextPageToken(); token == "" {
							break
						}
					}
					if !equalStrings(got, tc.want) {
						t.Errorf("page size %d: got %v, want %v", size, got, tc.want)
					}
				}
			})
		}
	})
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestListOperationsBadRequests(t *testing.T) {
	m := newManager(t, statestore.NewMemory(), Options{})
	s := NewServer(m)
	other := (&pageToken{Filter: `done=true`, T: 1, N: "operations/x"}).encode()
	tests := []struct {
		req   *longrunningpb.ListOperationsRequest
		field string
	}{
		{&longrunningpb.ListOperationsRequest{Filter: `state="RUNNING"`}, "filter"},
		{&longrunningpb.ListOperationsRequest{Filter: `target=services/A`}, "filter"},
		{&longrunningpb.ListOperationsRequest{Filter: `done=yes`}, "filter"},
		{&longrunningpb.ListOperationsRequest{Filter: `done=true AND done=false`}, "filter"},
		{&longrunningpb.ListOperationsRequest{Filter: `done=true OR done=false`}, "filter"},
		{&longrunningpb.ListOperationsRequest{PageSize: -1}, "page_size"},
		{&longrunningpb.ListOperationsRequest{PageToken: "!!"}, "page_token"},
		{&longrunningpb.ListOperationsRequest{PageToken: other}, "page_token"},
		{&longrunningpb.ListOperationsRequest{Name: "services"}, "name"},
	}
	for _, tc := range tests {
		_, err := s.ListOperations(context.Background(), tc.req)
		checkBadRequest(t, err, tc.field)
	}
}

func TestBadNames(t *testing.T) {
	m := newManager(t, statestore.NewMemory(), Options{})
	s := NewServer(m)
	ctx := context.Background()
	for _, name := range []string{"", "operations/", "operations/x", "services/A", "operations/00000000-0000-4000-8000-00000000000/x"} {
		_, err := s.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: name})
		checkBadRequest(t, err, "name")
		_, err = s.WaitOperation(ctx, &longrunningpb.WaitOperationRequest{Name: name})
		checkBadRequest(t, err, "name")
		_, err = s.DeleteOperation(ctx, &longrunningpb.DeleteOperationRequest{Name: name})
		checkBadRequest(t, err, "name")
		_, err = s.CancelOperation(ctx, &longrunningpb.CancelOperationRequest{Name: name})
		checkBadRequest(t, err, "name")
	}
	missing := "operations/00000000-0000-4000-8000-000000000000"
	if _, err := s.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: missing}); status.Code(err) != codes.NotFound {
		t.Errorf("GetOperation(missing) = %v, want NOT_FOUND", err)
	}
	_, err := s.WaitOperation(ctx, &longrunningpb.WaitOperationRequest{Name: missing, Timeout: durationpb.New(-time.Second)})
	checkBadRequest(t, err, "timeout")
}

// TestWaitTimeout: WaitOperation returns the running operation when its
// timeout passes, and when the call's deadline nears, without an error.
func TestWaitTimeout(t *testing.T) {
	m := newManager(t, statestore.NewMemory(), Options{})
	s := NewServer(m)
	n := startN(t, m, []string{"services/A"}, nil)
	op, err := s.WaitOperation(context.Background(), &longrunningpb.WaitOperationRequest{Name: n[0], Timeout: durationpb.New(10 * time.Millisecond)})
	if err != nil || op.GetDone() {
		t.Errorf("WaitOperation(10ms) = %v, %v; want the running operation", op, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	op, err = s.WaitOperation(ctx, &longrunningpb.WaitOperationRequest{Name: n[0]})
	if err != nil || op.GetDone() {
		t.Errorf("WaitOperation(deadline 50ms) = %v, %v; want the running operation", op, err)
	}
}

func TestDeleteOperation(t *testing.T) {
	forEachStore(t, func(t *testing.T, a, _ statestore.Store) {
		m := newManager(t, a, Options{})
		s := NewServer(m)
		ctx := context.Background()
		n := startN(t, m, []string{"services/Running", "services/Done"}, map[int]bool{1: true})
		_, err := s.DeleteOperation(ctx, &longrunningpb.DeleteOperationRequest{Name: n[0]})
		if status.Code(err) != codes.FailedPrecondition || errReason(err) != reasonFailedPrecondition {
			t.Errorf("DeleteOperation(running) = %v, want FAILED_PRECONDITION", err)
		}
		if _, err := s.DeleteOperation(ctx, &longrunningpb.DeleteOperationRequest{Name: n[1]}); err != nil {
			t.Fatalf("DeleteOperation(done) = %v", err)
		}
		if _, err := s.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: n[1]}); status.Code(err) != codes.NotFound {
			t.Errorf("GetOperation(deleted) = %v, want NOT_FOUND", err)
		}
		if _, err := s.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: n[0]}); err != nil {
			t.Errorf("GetOperation(running) = %v", err)
		}
	})
}

// TestCancelOperation: a cancellable operation is cancelled through its
// own replica or another one and ends CANCELLED; others are refused.
func TestCancelOperation(t *testing.T) {
	forEachStore(t, func(t *testing.T, a, b statestore.Store) {
		opts := Options{LeaseTTL: 3 * time.Second, LeaseRenew: 50 * time.Millisecond, ProgressInterval: 10 * time.Millisecond}
		m := newManager(t, a, opts)
		here := NewServer(m)
		there := NewServer(newManager(t, b, opts))
		ctx := context.Background()
		for _, via := range []struct {
			name string
			s    *Server
		}{{"same replica", here}, {"other replica", there}} {
			t.Run(via.name, func(t *testing.T) {
				ready := make(chan struct{})
				op, err := m.Start(ctx, Spec{Target: "services/G.GPServer", Verb: "run"}, func(ctx context.Context, p Progress) (proto.Message, error) {
					stop := make(chan struct{})
					p.SetCancel(func() { close(stop) })
					close(ready)
					select {
					case <-stop:
						return nil, context.Canceled
					case <-ctx.Done():
						return nil, ctx.Err()
					}
				})
				if err != nil {
					t.Fatal(err)
				}
				<-ready
				// The other replica learns that it is cancellable from
				// the record.
				for deadline := time.Now().Add(20 * time.Second); ; {
					got, err := via.s.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: op.GetName()})
					if err != nil {
						t.Fatal(err)
					}
					if metadataOf(t, got).GetCancellable() {
						break
					}
					if time.Now().After(deadline) {
						t.Fatal("never cancellable")
					}
					time.Sleep(10 * time.Millisecond)
				}
				if _, err := via.s.CancelOperation(ctx, &longrunningpb.CancelOperationRequest{Name: op.GetName()}); err != nil {
					t.Fatal(err)
				}
				done := waitDone(t, via.s, op.GetName())
				if st, _ := opError(t, done); st.Code() != codes.Canceled {
					t.Errorf("error = %v, want CANCELLED", st)
				}
				if md := metadataOf(t, done); !md.GetRequestedCancellation() || md.GetCancellable() {
					t.Errorf("metadata = %v, want requested_cancellation and not cancellable", md)
				}
				if _, err := via.s.CancelOperation(ctx, &longrunningpb.CancelOperationRequest{Name: op.GetName()}); status.Code(err) != codes.FailedPrecondition {
					t.Errorf("CancelOperation(done) = %v, want FAILED_PRECONDITION", err)
				}
			})
		}
		n := startN(t, m, []string{"services/S.MapServer"}, nil)
		for _, s := range []*Server{here, there} {
			_, err := s.CancelOperation(ctx, &longrunningpb.CancelOperationRequest{Name: n[0]})
			if status.Code(err) != codes.FailedPrecondition || errReason(err) != reasonFailedPrecondition {
				t.Errorf("CancelOperation(not cancellable) = %v, want FAILED_PRECONDITION", err)
			}
		}
	})
}

type callerKey struct{}

// TestCallerScoping: an operation is visible to its caller and to callers
// who see all, NOT_FOUND for others, and listed accordingly.
func TestCallerScoping(t *testing.T) {
	callerOf := func(ctx context.Context) (string, bool) {
		c, _ := ctx.Value(callerKey{}).(string)
		return c, c == "admin"
	}
	m := newManager(t, statestore.NewMemory(), Options{CallerOf: callerOf})
	s := NewServer(m)
	as := func(c string) context.Context { return context.WithValue(context.Background(), callerKey{}, c) }
	op, err := m.Start(as("alice"), Spec{Target: "services/A", Verb: "start"}, func(context.Context, Progress) (proto.Message, error) { return nil, nil })
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		caller string
		sees   bool
	}{{"alice", true}, {"admin", true}, {"bob", false}, {"", false}} {
		ctx := as(tc.caller)
		_, err := s.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: op.GetName()})
		if tc.sees != (err == nil) || (!tc.sees && status.Code(err) != codes.NotFound) {
			t.Errorf("GetOperation as %q = %v, want visible %v (else NOT_FOUND)", tc.caller, err, tc.sees)
		}
		_, err = s.DeleteOperation(ctx, &longrunningpb.DeleteOperationRequest{Name: "operations/00000000-0000-4000-8000-000000000000"})
		if status.Code(err) != codes.NotFound {
			t.Errorf("DeleteOperation(missing) as %q = %v, want NOT_FOUND", tc.caller, err)
		}
		resp, err := s.ListOperations(ctx, &longrunningpb.ListOperationsRequest{})
		if err != nil || (len(resp.GetOperations()) == 1) != tc.sees {
			t.Errorf("ListOperations as %q = %v, %v; want the operation listed: %v", tc.caller, resp, err, tc.sees)
		}
	}
	// Spec.Caller wins over the context's caller.
	op2, err := m.Start(as("alice"), Spec{Target: "services/A", Verb: "start", Caller: "bob"}, func(context.Context, Progress) (proto.Message, error) { return nil, nil })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetOperation(as("bob"), &longrunningpb.GetOperationRequest{Name: op2.GetName()}); err != nil {
		t.Errorf("GetOperation as bob of bob's = %v", err)
	}
	for _, name := range []string{op.GetName(), op2.GetName()} {
		if _, err := s.WaitOperation(as("admin"), &longrunningpb.WaitOperationRequest{Name: name, Timeout: durationpb.New(10 * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMethodScopesCoverTheService: every method of the Operations service
// has a scope, and nothing else is listed.
func TestMethodScopesCoverTheService(t *testing.T) {
	scopes := MethodScopes()
	methods := longrunningpb.Operations_ServiceDesc.Methods
	if len(scopes) != len(methods) {
		t.Errorf("%d scopes for %d methods", len(scopes), len(methods))
	}
	for _, md := range methods {
		if _, ok := scopes["/"+longrunningpb.Operations_ServiceDesc.ServiceName+"/"+md.MethodName]; !ok {
			t.Errorf("no scope for %s", md.MethodName)
		}
	}
}
