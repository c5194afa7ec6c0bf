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

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/operations"
	"github.com/arcgate/arcgate/simulator"
	"github.com/arcgate/arcgate/statestore"
	"github.com/arcgate/arcgate/upstream"
)

// losingLocker is an in-memory Locker whose held lock the test can lose,
// as a Redis lease that could not be renewed is: the held context is
// cancelled with cause statestore.ErrLockLost.
type losingLocker struct {
	*statestore.Memory
	mu   sync.Mutex
	lost context.CancelCauseFunc // of the lock held last
}

func (l *losingLocker) Lock(ctx context.Context, key string) (context.Context, func(), error) {
	held, unlock, err := l.Memory.Lock(ctx, key)
	if err != nil {
		return nil, nil, err
	}
	held, cancel := context.WithCancelCause(held)
	l.mu.Lock()
	l.lost = cancel
	l.mu.Unlock()
	return held, func() { cancel(context.Canceled); unlock() }, nil
}

// lose loses the lock held last.
func (l *losingLocker) lose() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lost(statestore.ErrLockLost)
}

// losingFolders loses the folder's lock at the upstream call named at
// ("list1": the first read, "edit": the edit after sending it, "edit
// unsent": the edit before sending it, "list2": the read-back, "": never),
// and then fails that call as the client does when its context ends.
type losingFolders struct {
	*fakeServices
	locks *losingLocker
	at    string
	lists int
}

func (f *losingFolders) ListRoot(ctx context.Context) (*upstream.FolderListing, error) {
	f.lists++
	if f.at == "list"+string(rune('0'+f.lists)) {
		f.locks.lose()
		<-ctx.Done()
		return nil, &upstream.Error{Kind: upstream.KindTransport, Op: "services.list", Err: ctx.Err()}
	}
	return f.fakeServices.ListRoot(ctx)
}

func (f *losingFolders) EditFolder(ctx context.Context, folder, description string, webEncrypted bool) error {
	switch f.at {
	case "edit": // sent: the upstream may apply it
		f.locks.lose()
		<-ctx.Done()
		f.record("EditFolder " + folder)
		return &upstream.Error{Kind: upstream.KindTransport, Op: "services.editFolder", Write: true, Sent: true, Err: ctx.Err()}
	case "edit unsent":
		f.locks.lose()
		<-ctx.Done()
		return &upstream.Error{Kind: upstream.KindTransport, Op: "services.editFolder", Write: true, Err: ctx.Err()}
	}
	return f.fakeServices.EditFolder(ctx, folder, description, webEncrypted)
}

// TestUpdateFolderLockLost: a write whose lock is lost while it runs ends
// ABORTED with the reason LOCK_LOST, naming the resource and whether the
// upstream request may have been sent, not CANCELED as if the caller had
// given up; a write already applied stays WRITE_APPLIED.
func TestUpdateFolderLockLost(t *testing.T) {
	const name = "folders/Maps"
	for _, tc := range []struct {
		at       string
		code     codes.Code
		reason   string
		sent     string // metadata writeSent
		wantText string // in the message
	}{
		{at: "list1", code: codes.Aborted, reason: ReasonLockLost, sent: "no", wantText: "before its upstream request was sent"},
		{at: "edit unsent", code: codes.Aborted, reason: ReasonLockLost, sent: "no", wantText: "before its upstream request was sent"},
		{at: "edit", code: codes.Aborted, reason: ReasonLockLost, sent: "maybe", wantText: "retry with the same request_id"},
		{at: "list2", code: codes.Aborted, reason: ReasonWriteApplied, wantText: "was applied"},
		{at: "", code: codes.OK},
	} {
		t.Run("lost at "+tc.at, func(t *testing.T) {
			locks := &losingLocker{Memory: statestore.NewMemory()}
			f := &losingFolders{fakeServices: &fakeServices{folders: []upstream.FolderInfo{{FolderName: "Maps", Description: "old"}}}, locks: locks, at: tc.at}
			s := &servicesServer{services: f, locks: locks}
			_, err := s.UpdateFolder(context.Background(), &adminv1.UpdateFolderRequest{
				Folder: &adminv1.Folder{Name: name, Description: "new"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}}})
			wantStatus(t, err, tc.code, tc.reason)
			if err == nil {
				return
			}
			md := errorMetadata(err)
			if msg := status.Convert(err).Message(); md["resource"] != name || !strings.Contains(msg, name) ||
				!strings.Contains(msg, "lock on "+name+" was lost") || !strings.Contains(msg, tc.wantText) {
				t.Errorf("error %v (metadata %v): want the lost lock on %s named, and %q", err, md, name, tc.wantText)
			}
			if md["writeSent"] != tc.sent {
				t.Errorf("metadata writeSent %q, want %q", md["writeSent"], tc.sent)
			}
		})
	}
}

// TestLockLost: what a lost lock turns the work's error into, and what it
// leaves alone.
func TestLockLost(t *testing.T) {
	const res = "folders/Maps"
	lostCtx, lose := context.WithCancelCause(context.Background())
	lose(statestore.ErrLockLost)
	heldCtx, unlock := context.WithCancelCause(context.Background())
	defer unlock(nil)
	callerGone, gone := context.WithCancelCause(context.Background())
	gone(context.Canceled)
	canceled := Status(context.Canceled, res)
	unknown := Status(&upstream.Error{Kind: upstream.KindTransport, Write: true, Sent: true, Err: context.Canceled}, res)
	applied := readBackFailed(context.Canceled, res)
	upstream400 := Status(&upstream.Error{Kind: upstream.KindAPI, Code: 400, Messages: []string{"bad"}}, res)
	for _, tc := range []struct {
		name   string
		held   context.Context
		err    error
		code   codes.Code
		reason string
	}{
		{"lost: cancellation before sending", lostCtx, canceled, codes.Aborted, ReasonLockLost},
		{"lost: raw context error", lostCtx, context.Canceled, codes.Aborted, ReasonLockLost},
		{"lost: write may have been sent", lostCtx, unknown, codes.Aborted, ReasonLockLost},
		{"lost: raw write may have been sent", lostCtx, &upstream.Error{Kind: upstream.KindTransport, Write: true, Sent: true, Err: context.Canceled}, codes.Aborted, ReasonLockLost},
		{"lost: write applied", lostCtx, applied, codes.Aborted, ReasonWriteApplied},
		{"lost: an upstream refusal is kept", lostCtx, upstream400, codes.InvalidArgument, ReasonUpstreamError},
		{"lost: success is kept", lostCtx, nil, codes.OK, ""},
		{"held: cancellation kept", heldCtx, canceled, codes.Canceled, ""},
		{"caller gone: cancellation kept", callerGone, unknown, codes.Canceled, ReasonUpstreamOutcomeUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := lockLost(tc.held, tc.err, res)
			wantStatus(t, err, tc.code, tc.reason)
			if again := lockLost(tc.held, err, res); status.Code(again) != status.Code(err) || status.Convert(again).Message() != status.Convert(err).Message() {
				t.Errorf("applied twice: %v, then %v", err, again)
			}
		})
	}
}

// TestOperationLockLost: an operation whose lock is lost while its upstream
// start is in flight ends ABORTED, LOCK_LOST, naming the service, the start
// possibly sent; the start reached the upstream once.
func TestOperationLockLost(t *testing.T) {
	const name = "services/SampleWorldCities.MapServer"
	locks := &losingLocker{Memory: statestore.NewMemory()}
	sim := simulator.New(simulator.Config{})
	var starts atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/start") {
			starts.Add(1)
			_, _ = io.Copy(io.Discard, r.Body) // then net/http sees the client go
			locks.lose()
			<-r.Context().Done()
			return
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	up, err := upstream.New(ts.URL+"/arcgis", upstream.WithHTTPClient(ts.Client()),
		upstream.WithCredentials(simulator.DefaultUsername, simulator.DefaultPassword))
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	ops := operations.New(statestore.NewMemory(), operations.Options{})
	defer func() { _ = ops.Shutdown(context.Background()) }()
	s := &servicesServer{services: up.Services, locks: locks, ops: ops}
	ctx := context.Background()
	op, err := s.StartService(ctx, &adminv1.StartServiceRequest{Name: name})
	for err == nil && !op.GetDone() {
		op, err = operations.NewServer(ops).WaitOperation(ctx, &longrunningpb.WaitOperationRequest{Name: op.GetName()})
	}
	if err != nil {
		t.Fatal(err)
	}
	st := status.FromProto(op.GetError())
	md := errorMetadata(st.Err())
	if st.Code() != codes.Aborted || reasonOf(st.Err()) != ReasonLockLost || md["resource"] != name || md["writeSent"] != "maybe" ||
		!strings.Contains(st.Message(), "lock on "+name+" was lost") {
		t.Fatalf("operation ended %v %q (%v); want ABORTED, LOCK_LOST naming %s, the start possibly sent", st.Code(), st.Message(), md, name)
	}
	if n := starts.Load(); n != 1 {
		t.Errorf("%d start requests upstream, want 1", n)
	}
}
